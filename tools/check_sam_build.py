"""Checks a `sam build` output: every function of the built template has an executable `bootstrap`
where its CodeUri points. SAM builds functions with the same code, runtime and metadata once
(`Function-Shared`), so the paths are read from the built template, not assumed.

Usage: check_sam_build.py BUILD_DIR FUNCTION...
"""
import os
import sys

from samcli.yamlhelper import yaml_parse


def main(build_dir, functions):
    with open(os.path.join(build_dir, "template.yaml")) as f:
        resources = yaml_parse(f.read())["Resources"]
    for name in functions:
        path = os.path.join(build_dir, resources[name]["Properties"]["CodeUri"], "bootstrap")
        if not os.access(path, os.X_OK):
            sys.exit(f"{name}: no executable bootstrap at {path}")
        print(f"{name}: {path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
