# Sourced by the scripts that need Python packages: makes (or reuses) the venv `$venv`
# (default target/ci-venv) with a working pip and sets `python`. Run from the repo root.

venv="${venv:-target/ci-venv}"
python="$venv/bin/python"

# A venv with a working pip; recreated if an earlier run left it half-made.
if [[ ! -x "$python" ]] || ! "$python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    mkdir -p target
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian-style pythons ship venv without ensurepip: make the venv bare, fetch
        # pip's wheel with the system pip (its configured index), and install it from
        # the wheel, which runs from the zip.
        rm -rf "$venv"
        python3 -m venv --without-pip "$venv"
        wheels="$(mktemp -d)"
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" pip
        wheel="$(ls "$wheels"/pip-*.whl)"
        "$python" "$wheel/pip" install --quiet "$wheel"
        rm -rf "$wheels"
    fi
fi
