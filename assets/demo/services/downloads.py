"""downloads.py: files the chain downloads over HTTPS (443), served from the demo.

download.docker.com (Docker's apt key), sh.rustup.rs (a rustup that installs the demo's
cargo/rustc stand-ins), github.com release assets (the dstack guest image).
"""
import hashlib
import io
import json
import os
import tarfile

import demolib

PORTS = [443]
TLS = True
UNIT = None
HOSTS = ["download.docker.com", "sh.rustup.rs", "static.rust-lang.org", "github.com",
         "objects.githubusercontent.com", "download.dstack.org"]

DOCKER_GPG = """-----BEGIN PGP PUBLIC KEY BLOCK-----

mQINBFit2ioBEADhWpZ8/wvZ6hUTiXOwQHXMAlaFHcPH9hAtr4F1y2+OYdbtMuth
lqqwp028AqyY+PRfVMtSYMbjuQuu5byyKR01BbqYhuS3jtqQmljZ/bJvXqnmiVXh
(dstack-wizard demo: a stand-in for Docker's release key)
=0YYh
-----END PGP PUBLIC KEY BLOCK-----
"""


def rustup_script():
    with open(os.path.join(demolib.ASSETS, "libexec", "rustup-init.sh")) as f:
        return f.read()


def guest_image(version):
    """A dstack-<version>.tar.gz with the 0.5.x file names and a metadata.json."""
    files = {
        "metadata.json": json.dumps({"bios": "ovmf.fd", "kernel": "bzImage", "cmdline":
                                     "console=ttyS0 init=/init panic=1 net.ifnames=0 biosdevname=0 mce=off oops=panic pci=noearly pci=nommconf random.trust_cpu=y random.trust_bootloader=n tsc=reliable no-kvmclock dstack.rootfs_hash=%s dstack.rootfs_size=440328192" % demolib.demo_hex("rootfs" + version, 64),
                                     "initrd": "initramfs.cpio.gz", "rootfs": "rootfs.img.verity",
                                     "version": version, "shared_ro": True, "is_dev": False}, indent=2).encode(),
        "ovmf.fd": b"OVMF (dstack-wizard demo)\n" * 64,
        "bzImage": b"bzImage (dstack-wizard demo)\n" * 64,
        "initramfs.cpio.gz": b"initramfs (dstack-wizard demo)\n" * 64,
        "rootfs.img.verity": b"rootfs (dstack-wizard demo)\n" * 64,
    }
    sums = "".join("%s  %s\n" % (hashlib.sha256(v).hexdigest(), k) for k, v in sorted(files.items()))
    files["sha256sum.txt"] = sums.encode()
    files["digest.txt"] = hashlib.sha256(files["sha256sum.txt"]).hexdigest().encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        d = tarfile.TarInfo("dstack-%s" % version)
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        t.addfile(d)
        for k, v in sorted(files.items()):
            ti = tarfile.TarInfo("dstack-%s/%s" % (version, k))
            ti.size = len(v)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(v))
    return buf.getvalue()


def handle(req):
    if req.host == "download.docker.com" and req.path == "/linux/ubuntu/gpg":
        return (200, {"Content-Type": "application/pgp-keys"}, DOCKER_GPG)
    if req.host == "sh.rustup.rs":
        return (200, {"Content-Type": "text/x-shellscript"}, rustup_script())
    if req.host == "github.com" and "/releases/download/" in req.path:
        name = req.path.rsplit("/", 1)[-1]
        if name.startswith("dstack-") and name.endswith(".tar.gz") and "/meta-dstack/" in req.path:
            version = name[len("dstack-"):-len(".tar.gz")]
            if version.startswith("0.5.") or version.startswith("0.4."):
                return (200, {"Content-Type": "application/gzip"}, guest_image(version))
        return (404, {"Content-Type": "text/plain"}, "Not Found")
    return (404, {"Content-Type": "text/plain"}, "Not Found")
