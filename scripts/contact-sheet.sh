#!/usr/bin/env bash
# Joins images into one contact sheet: each is scaled to fit a 256 px cell,
# labelled with its file name, and the cells are laid out 4 across.
# The format of OUT_FILE follows its extension (.png, .jpg/.jpeg, .webp).
#
#   scripts/contact-sheet.sh OUT_FILE IMAGE...
#   CELL=320 ACROSS=5 scripts/contact-sheet.sh sheet.jpg data/storage/images/generated/*/*
set -euo pipefail

# shellcheck source=scripts/lib/vips-tools.sh
. "$(dirname "$0")/lib/vips-tools.sh"
vips_script_start "OUT_FILE IMAGE..." 2 "" "$@"

out=$1
shift
cell=${CELL:-256}
columns=${ACROSS:-4}
[[ $cell =~ ^[0-9]+$ && $cell -ge 32 ]] || { echo "$0: CELL must be a number >= 32" >&2; exit 2; }
[[ $columns =~ ^[0-9]+$ && $columns -ge 1 ]] || { echo "$0: ACROSS must be a number >= 1" >&2; exit 2; }
case ${out,,} in
  *.png) save="[compression=6]" ;;
  *.jpg | *.jpeg) save="[Q=88]" ;;
  *.webp) save="[Q=85]" ;;
  *) echo "$0: OUT_FILE must end in .png, .jpg, .jpeg or .webp" >&2; exit 2 ;;
esac

label_h=$((cell / 10))
tiles=()
n=0
for image in "$@"; do
  tile=$work/tile-$(printf '%04d' "$n").v
  # Fit inside the cell (never upscaled beyond it), as 8-bit sRGB without
  # alpha, so every tile joins cleanly whatever its source format.
  if ! vips thumbnail "$image" "$work/thumb.v" "$cell" --height $((cell - label_h)) 2>"$work/err"; then
    echo "$0: skipping $image: $(head -n1 "$work/err")" >&2
    continue
  fi
  vips colourspace "$work/thumb.v" "$work/srgb.v" srgb
  if [[ $(vipsheader -f bands "$work/srgb.v") -ge 4 ]]; then
    vips flatten "$work/srgb.v" "$work/flat.v" --background "32 32 36"
  else
    cp "$work/srgb.v" "$work/flat.v"
  fi
  vips cast "$work/flat.v" "$work/u8.v" uchar
  w=$(vipsheader -f width "$work/u8.v")
  h=$(vipsheader -f height "$work/u8.v")
  vips embed "$work/u8.v" "$tile" $(((cell - w) / 2)) $(((cell - label_h - h) / 2)) \
    "$cell" "$cell" --extend background --background "32 32 36"
  # The file name under the picture; skipped quietly when no font works.
  name=$(basename -- "$image")
  if vips text "$work/label.v" "${name//&/&amp;}" --font "DejaVu Sans $((label_h / 2))" \
      --width $((cell - 8)) --dpi 72 2>/dev/null; then
    lw=$(vipsheader -f width "$work/label.v")
    lh=$(vipsheader -f height "$work/label.v")
    if ((lw <= cell && lh <= label_h)); then
      vips draw_mask "$tile" "230 230 230" "$work/label.v" $(((cell - lw) / 2)) \
        $((cell - label_h + (label_h - lh) / 2))
    fi
  fi
  tiles+=("$tile")
  n=$((n + 1))
done

if ((${#tiles[@]} == 0)); then
  echo "$0: no readable images" >&2
  exit 1
fi
if ((columns > ${#tiles[@]})); then
  columns=${#tiles[@]}
fi
if ((${#tiles[@]} == 1)); then
  # vips 8.14's arrayjoin crashes on a single image; one tile is the sheet.
  cp "${tiles[0]}" "$work/sheet.v"
else
  vips arrayjoin "${tiles[*]}" "$work/sheet.v" --across "$columns" --shim 6 \
    --background "16 16 18"
fi
vips copy "$work/sheet.v" "$out$save"
echo "$out: ${#tiles[@]} images, $(vipsheader -f width "$out")x$(vipsheader -f height "$out")"
