"""`edge verify-export` and `verify_bundle`: every file signed, nothing extra, a trusted key."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from helpers import run_edge

from edge.access.bundle import MANIFEST, SIGNATURE, SUMS, VERIFY, canonical, verify_bundle, write_bundle, zip_stream
from storage.signing import DeviceKey, load_or_create

CLIPS = {"gate-1.mp4": b"genuine clip one " * 1000, "gate-2.mp4": b"genuine clip two " * 900}


def make_bundle(tmp: Path, key: DeviceKey) -> Path:
    d = tmp / "bundle"
    d.mkdir()
    cams = []
    for name, blob in CLIPS.items():
        (d / name).write_bytes(blob)
        cams.append({"camera": name.removesuffix(".mp4"), "file": name, "sha256": hashlib.sha256(blob).hexdigest(),
                     "bytes": len(blob), "source_segments": []})
    manifest = {"format": "edge-export/1", "export_id": 1, "cameras": cams,
                "device": {"box_id": "box-1", "public_key_fingerprint": key.fingerprint}}
    write_bundle(d, manifest, key)
    return d


def as_zip(directory: Path, out: Path, extra: dict[str, bytes] | None = None, prefix: str = "export-1") -> Path:
    out.write_bytes(b"".join(zip_stream(directory, prefix)))
    if extra:
        with zipfile.ZipFile(out, "a") as zf:
            for name, blob in extra.items():
                zf.writestr(name, blob)
    return out


@pytest.fixture
def keys(tmp_path: Path) -> tuple[DeviceKey, DeviceKey]:
    return load_or_create(tmp_path / "keys-device"), load_or_create(tmp_path / "keys-attacker")


@pytest.fixture
def bundle(tmp_path: Path, keys: tuple[DeviceKey, DeviceKey]) -> Path:
    return make_bundle(tmp_path, keys[0])


def pem(key: DeviceKey) -> bytes:
    return key.public_pem.encode()


def test_every_file_is_listed_in_the_signed_manifest(bundle: Path, keys: tuple[DeviceKey, DeviceKey]) -> None:
    manifest = json.loads((bundle / MANIFEST).read_bytes())
    assert set(manifest["files"]) == {p.name for p in bundle.iterdir()} - {MANIFEST, SIGNATURE}
    assert SUMS in manifest["files"] and VERIFY in manifest["files"]
    sums = (bundle / SUMS).read_bytes()
    assert manifest["files"][SUMS]["sha256"] == hashlib.sha256(sums).hexdigest(), "SHA256SUMS is signed"
    report = verify_bundle(bundle, pem(keys[0]))
    assert report.ok, report.problems


def test_a_key_is_trusted_only_when_given_or_its_fingerprint_confirmed(
        bundle: Path, keys: tuple[DeviceKey, DeviceKey], tmp_path: Path) -> None:
    device, attacker = keys
    untrusted = verify_bundle(bundle)
    assert not untrusted.ok and any("UNTRUSTED KEY" in p for p in untrusted.problems)
    assert verify_bundle(bundle, fingerprint_expected=device.fingerprint).ok
    assert verify_bundle(bundle, fingerprint_expected=device.fingerprint.removeprefix("SHA256:").upper()).ok
    wrong = verify_bundle(bundle, fingerprint_expected=attacker.fingerprint)
    assert any("UNTRUSTED KEY" in p for p in wrong.problems)

    # Re-signed with another key (manifest, signature and shipped key all replaced): the bundle's
    # own key checks out, so only trust can catch it.
    forged = tmp_path / "forged"
    forged.mkdir()
    (forged / "gate-1.mp4").write_bytes(b"forged " * 500)
    (forged / "gate-2.mp4").write_bytes(CLIPS["gate-2.mp4"])
    cams = [{"camera": n.removesuffix(".mp4"), "file": n, "bytes": (forged / n).stat().st_size,
             "sha256": hashlib.sha256((forged / n).read_bytes()).hexdigest(), "source_segments": []} for n in CLIPS]
    write_bundle(forged, {"format": "edge-export/1", "export_id": 1, "cameras": cams,
                          "device": {"box_id": "box-1", "public_key_fingerprint": attacker.fingerprint}}, attacker)
    assert any("UNTRUSTED KEY" in p for p in verify_bundle(forged).problems)
    assert any("SIGNATURE INVALID" in p for p in verify_bundle(forged, pem(device)).problems)

    key_file = tmp_path / "device.pub.pem"
    key_file.write_bytes(pem(device))
    out = run_edge("verify-export", str(forged))
    assert out.returncode == 1 and "UNTRUSTED KEY" in out.stdout and "BUNDLE INTACT" not in out.stdout, out.stdout
    out = run_edge("verify-export", str(forged), "--public-key", str(key_file))
    assert out.returncode == 1 and "SIGNATURE INVALID" in out.stdout
    out = run_edge("verify-export", str(bundle), "--fingerprint", device.fingerprint)
    assert out.returncode == 0 and "BUNDLE INTACT" in out.stdout, out.stdout


def test_a_forged_clip_beside_the_genuine_one_is_refused(
        bundle: Path, keys: tuple[DeviceKey, DeviceKey], tmp_path: Path) -> None:
    device = pem(keys[0])
    genuine = as_zip(bundle, tmp_path / "genuine.zip")
    assert verify_bundle(genuine, device).ok
    # The attack: the genuine bundle under another folder, a forged gate-1.mp4 under export-1/.
    attack = tmp_path / "attack.zip"
    attack.write_bytes(b"".join(zip_stream(bundle, "real")))
    with zipfile.ZipFile(attack, "a") as zf:
        zf.writestr("export-1/gate-1.mp4", b"forged footage")
    report = verify_bundle(attack, device)
    assert not report.ok and "bundle refused" in report.problems[0] and "BUNDLE INTACT" not in str(report)
    # The same name twice in one folder.
    dup = as_zip(bundle, tmp_path / "dup.zip")
    with pytest.warns(UserWarning), zipfile.ZipFile(dup, "a") as zf:
        zf.writestr("export-1/gate-1.mp4", b"forged footage")
    report = verify_bundle(dup, device)
    assert not report.ok and "DUPLICATE" in report.problems[0]
    split = as_zip(bundle, tmp_path / "split.zip", {"other/notes.txt": b"x"})
    assert "several folders" in verify_bundle(split, device).problems[0]
    nested = as_zip(bundle, tmp_path / "nested.zip", {"export-1/sub/gate-1.mp4": b"x"})
    assert "flat folder" in verify_bundle(nested, device).problems[0]


def test_unlisted_and_edited_files_are_refused(bundle: Path, keys: tuple[DeviceKey, DeviceKey],
                                               tmp_path: Path) -> None:
    device = pem(keys[0])
    extra = as_zip(bundle, tmp_path / "extra.zip", {"export-1/README-police.txt": b"trust me"})
    assert any("README-police.txt: UNLISTED" in p for p in verify_bundle(extra, device).problems)
    (bundle / "notes.txt").write_text("added later")
    assert any("notes.txt: UNLISTED" in p for p in verify_bundle(bundle, device).problems)
    (bundle / "notes.txt").unlink()
    for name in (SUMS, VERIFY):
        original = (bundle / name).read_bytes()
        (bundle / name).write_bytes(original + b"# edited\n")
        problems = verify_bundle(bundle, device).problems
        assert any(f"{name}: ALTERED" in p for p in problems), problems
        (bundle / name).write_bytes(original)
    (bundle / "gate-2.mp4").unlink()
    assert any("gate-2.mp4: MISSING" in p for p in verify_bundle(bundle, device).problems)


def test_following_verify_txt_by_hand_catches_a_swapped_clip(bundle: Path, keys: tuple[DeviceKey, DeviceKey]) -> None:
    """The hand procedure: signature over the manifest, SHA256SUMS's hash against the manifest,
    then the sums. Swapping a clip and rewriting SHA256SUMS to match fails at the second step."""
    (bundle / "gate-1.mp4").write_bytes(b"swapped footage")
    lines = [f"{hashlib.sha256((bundle / n).read_bytes()).hexdigest()}  {n}"
             for n in sorted(p.name for p in bundle.iterdir() if p.name not in (MANIFEST, SIGNATURE, SUMS))]
    (bundle / SUMS).write_text("\n".join(lines) + "\n")
    keys[0].public.verify((bundle / SIGNATURE).read_bytes(), (bundle / MANIFEST).read_bytes())  # step 2 passes
    manifest = json.loads((bundle / MANIFEST).read_bytes())
    assert hashlib.sha256((bundle / SUMS).read_bytes()).hexdigest() != manifest["files"][SUMS]["sha256"], "step 3"
    assert f'"{SUMS}"' in canonical(manifest).decode() and "grep -A3" in (bundle / VERIFY).read_text()
    problems = verify_bundle(bundle, pem(keys[0])).problems
    assert any("gate-1.mp4: ALTERED" in p for p in problems) and any(f"{SUMS}: ALTERED" in p for p in problems)
