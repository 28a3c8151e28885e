#!/usr/bin/env python3
"""Emailicious' seed request (mailing.json, the "Envois" page's POST /api/v1/mailings body) for one of your
lists, its layout zipped from layout/ by the docs' own recipe: index.html at the root, images under images/,
the zip as a data URI.

    python3 examples/mailing.py LIST_ID              the request body, on stdout
    python3 examples/mailing.py LIST_ID layout.zip   the zip alone, written to layout.zip
"""
import base64
import io
import json
import pathlib
import sys
import zipfile

HERE = pathlib.Path(__file__).resolve().parent


def layout_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(HERE / "layout" / "index.html", "index.html")
        for image in sorted((HERE / "layout" / "images").iterdir()):
            archive.write(image, "images/" + image.name)
    return buffer.getvalue()


def main() -> None:
    if len(sys.argv) not in (2, 3) or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    archive = layout_zip()
    if len(sys.argv) == 3:
        pathlib.Path(sys.argv[2]).write_bytes(archive)
        return
    body = json.loads((HERE / "mailing.json").read_text(encoding="utf-8"))
    body["list"] = int(sys.argv[1])
    for variant in body["variants"]:
        variant["layout"]["zip_file"] = "data:application/zip;charset=utf-8;base64," + base64.b64encode(archive).decode("ascii")
    json.dump(body, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
