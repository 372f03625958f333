#!/usr/bin/env bash
# Makes small, visually distinct sample input images for the demo with the
# vips CLI (libvips-tools): a colour gradient, a shape and a text label each.
# The output is deterministic for a given libvips and font set.
#
#   scripts/make-sample-images.sh OUT_DIR
set -euo pipefail

# shellcheck source=scripts/lib/vips-tools.sh
. "$(dirname "$0")/lib/vips-tools.sh"
vips_script_start "OUT_DIR" 1 1 "$@"

out_dir=$1
mkdir -p "$out_dir"

# make_sample FILE WIDTH HEIGHT "R G B" "R G B" SHAPE "INK" LABEL
#   gradient from the first colour (left) to the second (right), a shape
#   (figure | circle | box | stripes) in INK, and LABEL in white.
make_sample() {
  local file=$1 w=$2 h=$3 from=$4 to=$5 shape=$6 ink=$7 label=$8
  local -a f t
  read -r -a f <<<"$from"
  read -r -a t <<<"$to"
  local img=$work/img.v

  # ramp = x / (w - 1), then per band: from + (to - from) * ramp
  vips xyz "$work/xy.v" "$w" "$h"
  vips extract_band "$work/xy.v" "$work/x.v" 0
  vips linear "$work/x.v" "$work/ramp.v" "$(awk -v w="$w" 'BEGIN { printf "%.10f", 1 / (w - 1) }')" 0
  # "--": a vector such as "-116 -120 -20" would otherwise read as an option.
  vips linear -- "$work/ramp.v" "$work/rgb.v" \
    "$((t[0] - f[0])) $((t[1] - f[1])) $((t[2] - f[2]))" "${f[0]} ${f[1]} ${f[2]}"
  vips cast "$work/rgb.v" "$work/u8.v" uchar
  vips copy "$work/u8.v" "$img" --interpretation srgb

  local cx=$((w / 2)) cy=$((h / 2)) s=$((w < h ? w : h))
  case $shape in
    figure)  # a head and a body: reads as a person at thumbnail size
      vips draw_circle "$img" "$ink" "$cx" $((cy - s / 4)) $((s / 9)) --fill
      vips draw_rect "$img" "$ink" $((cx - s / 7)) $((cy - s / 8)) $((2 * s / 7)) $((s / 3)) --fill
      vips draw_rect "$img" "$ink" $((cx - s / 7)) $((cy + s / 5)) $((s / 10)) $((s / 4)) --fill
      vips draw_rect "$img" "$ink" $((cx + s / 7 - s / 10)) $((cy + s / 5)) $((s / 10)) $((s / 4)) --fill
      ;;
    circle)
      vips draw_circle "$img" "$ink" "$cx" "$cy" $((s / 4)) --fill
      vips draw_circle "$img" "255 255 255" "$cx" "$cy" $((s / 4))
      ;;
    box)
      vips draw_rect "$img" "$ink" $((cx - s / 4)) $((cy - s / 5)) $((s / 2)) $((2 * s / 5)) --fill
      vips draw_rect "$img" "$ink" $((cx - s / 10)) $((cy - s / 3)) $((s / 5)) $((s / 8))
      ;;
    stripes)
      local y
      for ((y = h / 6; y < h * 5 / 6; y += h / 8)); do
        vips draw_rect "$img" "$ink" $((w / 8)) "$y" $((w * 3 / 4)) $((h / 16)) --fill
      done
      ;;
  esac

  # The label is optional decoration: without fonts the image is still made.
  if vips text "$work/label.v" "$label" --font "DejaVu Sans Bold $((s / 8))" --dpi 72 2>/dev/null; then
    local lw lh
    lw=$(vipsheader -f width "$work/label.v")
    lh=$(vipsheader -f height "$work/label.v")
    if ((lw < w && lh < h)); then
      vips draw_mask "$img" "0 0 0" "$work/label.v" $(((w - lw) / 2 + 2)) $((h - lh - h / 16 + 2))
      vips draw_mask "$img" "255 255 255" "$work/label.v" $(((w - lw) / 2)) $((h - lh - h / 16))
    fi
  fi

  local opts
  case $file in
    *.png) opts="[compression=9,strip]" ;;
    *.jpg) opts="[Q=82,strip]" ;;
    *.webp) opts="[Q=80,strip]" ;;
  esac
  vips copy "$img" "$out_dir/$file$opts"
  rm -f "$work"/*.v
  printf '%s\t%sx%s\t%s bytes\n' "$out_dir/$file" "$w" "$h" "$(stat -c %s "$out_dir/$file")"
}

make_sample model.png      384 512 "236 200 180" "120 80 160"  figure  "40 40 70"    MODEL
make_sample top.jpg        384 384 "30 120 200"  "20 200 220"  box     "240 240 250" TOP
make_sample bottom.webp    320 448 "40 40 90"    "90 90 160"   stripes "200 170 90"  BOTTOM
make_sample shoes.png      448 288 "250 230 120" "240 140 60"  circle  "150 40 40"   SHOES
make_sample bag.jpg        384 384 "120 60 30"   "200 120 60"  box     "60 30 15"    BAG
make_sample background.jpg 512 320 "120 200 240" "30 140 60"   stripes "250 250 250" BACKGROUND
make_sample product.png    320 320 "245 245 245" "200 200 210" circle  "220 40 90"   PRODUCT
make_sample face.webp      320 400 "250 210 190" "230 150 130" figure  "120 70 50"   FACE
