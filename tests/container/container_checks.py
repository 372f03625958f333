#!/usr/bin/env python3
"""Checks the Dockerfile and docker-compose.yml without a Docker engine.

  python3 tests/container/container_checks.py --binary build/quel-worker

CI machines run no Docker engine, so this checks what can be checked here,
against the binary just built and the packages installed on this (Debian 12)
machine:

1. Base images are pinned to a Debian point release or a digest, and the
   build stage and the runtime stage use the same release.
2. The runtime stage has a HEALTHCHECK on /healthz, a VOLUME for local
   storage, and runs as a non-root user.
3. Runtime packages against the binary (readelf -d NEEDED, resolved by ldd):
   every package the runtime stage installs provides a library the binary
   links to (data packages are named below with their reason), and every
   library the binary links to belongs to one of those packages or to a
   package they depend on (so nothing is missing in the image).
4. docker-compose.yml: every command run with the worker image is a real
   `quel-worker` command (`quel-worker help COMMAND` succeeds), every QUEL_*
   variable it sets is a real configuration key (`quel-worker config` shows
   it as set by the environment), the stand-ins' commands name real scripts
   and options, and stop_grace_period is longer than worker.shutdown_deadline.
Prints one line per check and exits 1 on the first failure list.
"""

import argparse
import os
import re
import shlex
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Runtime packages that provide no library on purpose, with the reason.
DATA_PACKAGES = {
    "ca-certificates": "the CA bundle libcurl verifies HTTPS peers against",
}

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def dockerfile_stages(text):
    """[(base image, stage name or None, [instruction lines])], continuations joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append((current + line).strip())
        current = ""
    stages = []
    for line in lines:
        m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            stages.append((m.group(1), m.group(2), []))
        elif stages:
            stages[-1][2].append(line)
    return stages


def pinned(image):
    if "@sha256:" in image:
        return True
    name, _, tag = image.partition(":")
    # A point release (12.8, 15.8-bookworm, 7.0.15-bookworm), never latest
    # or a bare major version that moves.
    return bool(re.match(r"\d+\.\d+", tag))


def needed_libraries(binary):
    out = subprocess.run(["readelf", "-d", binary], check=True, capture_output=True,
                         text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def resolved_paths(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    paths = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if m:
            paths[m.group(1)] = m.group(2)
    return paths


def owner_package(path):
    """The package owning `path`, trying the merged-/usr spellings."""
    real = os.path.realpath(path)
    candidates = {path, real}
    for p in list(candidates):
        if p.startswith("/usr/"):
            candidates.add(p[4:])
        else:
            candidates.add("/usr" + p)
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    return None


def depends_closure(packages):
    """Installed packages reachable through Depends/Pre-Depends (dpkg status)."""
    seen, todo = set(), list(packages)
    while todo:
        pkg = todo.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", pkg],
                           capture_output=True, text=True)
        if r.returncode != 0:
            continue
        for alternative in r.stdout.split(","):
            for name in alternative.split("|"):
                name = name.strip().split(" ")[0].split(":")[0]
                if name:
                    todo.append(name)
    return seen


def package_files(pkg):
    r = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
    return r.stdout.splitlines() if r.returncode == 0 else None


def check_dockerfile(binary):
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    stages = dockerfile_stages(text)
    check(len(stages) >= 2, "Dockerfile has a build stage and a runtime stage")
    for image, name, _ in stages:
        check(pinned(image), "base image %s (%s) is pinned" % (image, name or "runtime"))
    releases = {re.sub(r"-slim$", "", img.partition(":")[2]) for img, _, _ in stages
                if img.startswith("debian:")}
    check(len(releases) == 1, "every stage uses the same Debian release: %s" % sorted(releases))

    build = [s for s in stages if s[1] == "build"]
    check(bool(build), "a stage named build")
    if build:
        body = "\n".join(build[0][2])
        check("--build-only" in body and "-DBUILD_TESTING=OFF" in body,
              "the build stage installs build packages only and builds without tests")

    runtime_image, runtime_name, runtime = stages[-1]
    body = "\n".join(runtime)
    check(runtime_name is None, "the runtime stage is the last one (the default target)")
    check(re.search(r"^HEALTHCHECK .*?/healthz", body, re.M) is not None,
          "HEALTHCHECK asks /healthz")
    check(re.search(r"^VOLUME .*?/app/data/storage", body, re.M) is not None,
          "VOLUME for local storage")
    check(re.search(r"^USER (?!root)\S+", body, re.M) is not None, "runs as a non-root user")

    installs = re.findall(r"apt-get install\s+(.*?)(?:&&|$)", body, re.M)
    packages = [w for chunk in installs for w in chunk.split() if not w.startswith("-")]
    check(bool(packages), "runtime packages: %s" % " ".join(packages))

    needed = needed_libraries(binary)
    where = resolved_paths(binary)
    missing = [lib for lib in needed if lib not in where or where[lib] == "not"]
    check(not missing, "every library the binary needs resolves here: %s" % (missing or "yes"))

    for pkg in packages:
        if pkg in DATA_PACKAGES:
            check(package_files(pkg) is not None,
                  "%s: no library, on purpose (%s)" % (pkg, DATA_PACKAGES[pkg]))
            continue
        files = package_files(pkg)
        if files is None:
            check(False, "%s is a Debian 12 package installed here (dpkg -L)" % pkg)
            continue
        provides = sorted({os.path.basename(f) for f in files} & set(needed))
        check(bool(provides), "%s provides a library the binary links to: %s"
              % (pkg, ", ".join(provides) or "none"))

    closure = depends_closure(packages)
    for lib in needed:
        owner = owner_package(where.get(lib, lib))
        check(owner is not None and owner in closure,
              "%s (package %s) comes with the runtime packages" % (lib, owner))


def quel_worker(binary, args, env=None):
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=30,
                          env=env, stdin=subprocess.DEVNULL)


def duration_seconds(text):
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(text))
    if not m or not any(m.groups()):
        return None
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def shutdown_deadline():
    ini = open(os.path.join(ROOT, "config", "worker.ini")).read()
    m = re.search(r"^shutdown_deadline\s*=\s*([0-9.]+)", ini, re.M)
    return float(m.group(1)) if m else None


def check_compose(binary):
    compose = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.yml")))
    services = compose.get("services", {})
    check(bool(services), "docker-compose.yml has services")
    worker_images = set()
    for name, svc in services.items():
        build = svc.get("build")
        if build == "." or (isinstance(build, dict) and "target" not in build):
            worker_images.add(svc.get("image"))
    deadline = shutdown_deadline()
    workers = 0
    for name, svc in sorted(services.items()):
        build = svc.get("build")
        is_worker = svc.get("image") in worker_images and build is not None \
            and not (isinstance(build, dict) and build.get("target"))
        if is_worker:
            command = svc.get("command") or ["run"]
            if isinstance(command, str):
                command = shlex.split(command)
            r = quel_worker(binary, ["help", command[0]])
            check(r.returncode == 0, "%s: `quel-worker %s` is a real command" % (name, command[0]))
            env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
            quel = {k: v for k, v in env.items() if k.startswith("QUEL_")}
            run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **quel}
            r = quel_worker(binary, ["config"], env=run_env)
            check(r.returncode == 0, "%s: `quel-worker config` accepts its environment%s"
                  % (name, "" if r.returncode == 0 else ": " + (r.stderr or r.stdout)[-300:]))
            for var in sorted(quel):
                shown = any(var in line and "env" in line.lower()
                            for line in r.stdout.splitlines())
                check(shown, "%s: %s is a real key (shown as set by the environment)"
                      % (name, var))
            if command[0] == "run":
                workers += 1
                grace = duration_seconds(svc.get("stop_grace_period", ""))
                check(grace is not None and deadline is not None and grace > deadline,
                      "%s: stop_grace_period %ss is longer than worker.shutdown_deadline %ss"
                      % (name, grace, deadline))
            continue
        if isinstance(build, dict) and build.get("target") == "standins":
            command = svc.get("command") or []
            script = command[0] if command else ""
            local = os.path.join(ROOT, "tests", "standins", os.path.basename(script))
            check(script.startswith("/standins/") and os.path.isfile(local),
                  "%s: stand-in script %s exists in tests/standins" % (name, script))
            if os.path.isfile(local):
                help_text = subprocess.run([sys.executable, local, "--help"],
                                           capture_output=True, text=True, timeout=30).stdout
                for option in [w for w in command[1:] if w.startswith("--")]:
                    check(option in help_text, "%s: %s is an option of %s"
                          % (name, option, os.path.basename(script)))
    check(workers >= 2, "compose runs two workers (%d)" % workers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    check_dockerfile(args.binary)
    check_compose(args.binary)
    if failures:
        print("\n%d check(s) failed" % len(failures))
        return 1
    print("\nall container checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
