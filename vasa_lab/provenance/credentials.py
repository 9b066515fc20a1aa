"""Content credentials: a signed C2PA manifest inside the mp4 that says what made it.

The watermark survives re-encoding but says little (24 bits); a C2PA manifest says a lot (the generator, the model,
the settings, that the picture is ``trainedAlgorithmicMedia``), is signed, and binds itself to the exact bytes of
the video with a hash, but the first re-encode strips it. The two complement each other.

We use the C2PA reference implementation's Python bindings (``c2pa-python``, which bundles the Rust library), fully
offline: no timestamp authority, no OCSP or remote-manifest fetches, no trust list download. Without a trust list a
reader can check that the signature is valid and that nothing was changed since signing, not *who* signed; so the
report names the certificate and says whether it is our locally generated TEST certificate.

    attach_credentials(mp4, settings, key=None)   sign in place (atomically: a temp file, then a rename)
    read_credentials(path) -> Credentials         what the manifest says, and whether it still verifies

``key``: None (a test certificate made once under ``$VASA_LAB_HOME/credentials/``, labelled as such), a path to a
PEM file holding a private key and its certificate chain, or a ``(chain_pem, key_pem)`` pair of bytes.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR = "vasa_lab"
TEST_ORG = "vasa_lab TEST certificate (not a trusted identity)"
SETTINGS_LABEL = "org.vasa_lab.generation"
# offline: never fetch anything while reading or verifying
_READER_SETTINGS = {"verify": {"ocsp_fetch": False, "remote_manifest_fetch": False, "verify_trust": False}}


class CredentialsError(Exception):
    """A manifest could not be made (bad key, unwritable file); one line for the user."""


class CredentialsWarning(UserWarning):
    """A video was written but could not be signed (it keeps its watermark)."""


def _home() -> Path:
    return Path(os.environ.get("VASA_LAB_HOME", Path.home() / ".cache" / "vasa_lab")) / "credentials"


def make_test_certificate(folder: str | Path | None = None) -> Path:
    """A local test CA and an ES256 signing certificate issued by it, written once to ``folder/test_signer.pem``
    (private key + chain). Its organisation says, in words, that it is a test certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder) if folder is not None else _home()
    path = folder / "test_signer.pem"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORG)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vasa_lab local TEST CA"), org])
    usage = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
                 encipher_only=False, decipher_only=False)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vasa_lab TEST signer"), org])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
           + cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    fd, tmp = tempfile.mkstemp(prefix=".test_signer.", dir=folder)      # two processes at once: each its own
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(tmp, 0o600)
    if path.exists():                # another process got there first: keep one certificate for everybody
        os.unlink(tmp)
    else:
        os.replace(tmp, path)
    return path


def check_signing_key(key) -> None:
    """Raise :class:`CredentialsError` (one line) if ``key`` cannot sign: called before any slow work."""
    _load_key(key)


def _load_key(key) -> tuple[bytes, bytes, str]:
    """-> (certificate chain PEM, private key PEM, algorithm name)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if key is None:
        key = make_test_certificate()
    if isinstance(key, (tuple, list)):
        chain, key_pem = (k if isinstance(k, bytes) else Path(k).read_bytes() for k in key)
    else:
        path = Path(key)
        if not path.is_file():
            raise CredentialsError(f"{path}: no such key file (a PEM with a private key and its certificate chain)")
        text = path.read_bytes()
        pems = [m.group(0) for m in re.finditer(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----\n?", text, re.S)]
        key_pem = b"".join(p for p in pems if b"PRIVATE KEY-----" in p.split(b"\n", 1)[0])
        chain = b"".join(p for p in pems if p.startswith(b"-----BEGIN CERTIFICATE-----"))
        if not key_pem or not chain:
            raise CredentialsError(f"{path}: needs a PEM private key and at least one PEM certificate")
    try:
        pk = serialization.load_pem_private_key(key_pem, password=None)
    except Exception as err:
        raise CredentialsError(f"cannot read the private key ({err})") from None
    if isinstance(pk, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(pk.curve.name)
    elif isinstance(pk, ed25519.Ed25519PrivateKey):
        alg = "ed25519"
    elif isinstance(pk, rsa.RSAPrivateKey):
        alg = "ps256"
    else:
        alg = None
    if alg is None:
        raise CredentialsError("unsupported key type (use EC P-256/384/521, Ed25519 or RSA)")
    return chain, key_pem, alg


def manifest_for(settings: dict, title: str) -> dict:
    return {
        "claim_generator_info": [{"name": GENERATOR, "version": _version()}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                "softwareAgent": {"name": GENERATOR, "version": _version()},
                "description": "a talking-face video generated from one portrait and a speech clip",
            }]}},
            {"label": SETTINGS_LABEL, "data": {"generator": GENERATOR, **_jsonable(settings)}},
        ],
    }


def _version() -> str:
    from .. import __version__
    return __version__


def _jsonable(d: dict) -> dict:
    return json.loads(json.dumps(d, default=str))


def attach_credentials(mp4_path: str | Path, settings: dict, key=None) -> Path:
    """Sign ``mp4_path`` in place with a C2PA manifest naming vasa_lab, the model and ``settings``.

    Run it once the mp4 is complete. The signed copy is written next to it under a temporary name and renamed
    over the original, so the final name never holds a half-written file."""
    import c2pa

    path = Path(mp4_path)
    if not path.is_file():
        raise CredentialsError(f"{path}: no such file")
    chain, key_pem, alg = _load_key(key)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".signing.mp4", dir=path.parent)
    os.close(fd)
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg, chain, key_pem, None))   # None: no timestamp server
        ctx = c2pa.Context.from_dict(_READER_SETTINGS)
        builder = c2pa.Builder.from_json(json.dumps(manifest_for(settings, path.name)), context=ctx)
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            builder.sign(signer, "video/mp4", src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, path)
    except c2pa.C2paError as err:
        raise CredentialsError(f"{path}: cannot sign ({' '.join(str(err).split())})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@dataclass
class Credentials:
    """What a file's content credentials say."""
    state: str                      # "none", "valid", "tampered", "unreadable"
    generator: str | None = None
    settings: dict = field(default_factory=dict)
    signer: str | None = None
    test_certificate: bool = False
    problems: list = field(default_factory=list)

    @property
    def present(self) -> bool:
        return self.state in ("valid", "tampered")

    def summary(self) -> str:
        if self.state == "none":
            return "no content credentials"
        if self.state == "unreadable":
            return f"content credentials unreadable ({'; '.join(self.problems)})"
        who = f"signed by '{self.signer}'" + (" - a local TEST certificate, not a trusted identity"
                                              if self.test_certificate else " (not checked against a trust list)")
        what = ", ".join(f"{k} {v}" for k, v in self.settings.items() if k in ("model_id", "profile", "steps"))
        head = "credentials VALID" if self.state == "valid" else "credentials TAMPERED"
        tail = f"; {'; '.join(self.problems)}" if self.problems else ""
        return f"{head}: generated by {self.generator or '?'}{', ' + what if what else ''}, {who}{tail}"


def read_credentials(path: str | Path) -> Credentials:
    """Read and verify the C2PA manifest of ``path`` offline."""
    import c2pa

    path = Path(path)
    fmt = "video/mp4" if path.suffix.lower() in (".mp4", ".m4v", ".mov") else None
    try:
        ctx = c2pa.Context.from_dict(_READER_SETTINGS)
        with open(path, "rb") as f:
            reader = c2pa.Reader.try_create(fmt or path.suffix.lstrip(".").lower() or "video/mp4", f, context=ctx)
            if reader is None:
                return Credentials("none")
            state = reader.get_validation_state() or ""
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError as err:       # a manifest is there but its boxes or signature do not verify
        text = " ".join(str(err).split())
        if "NotSupported" in type(err).__name__:
            return Credentials("none")
        return Credentials("tampered", problems=[f"the manifest does not verify ({text[:160]})"])
    except OSError as err:
        return Credentials("unreadable", problems=[str(err)])
    failures = [f"{r.get('code')}: {r.get('explanation', '')}" for r in
                (results.get("activeManifest", {}) or {}).get("failure", [])]
    info = manifest.get("signature_info", {}) or {}
    data = next((a.get("data", {}) for a in manifest.get("assertions", []) if a.get("label") == SETTINGS_LABEL), {})
    signer = info.get("common_name") or info.get("issuer")
    ok = state.lower() in ("valid", "trusted") and not failures
    return Credentials("valid" if ok else "tampered", generator=data.get("generator"),
                       settings={k: v for k, v in data.items() if k != "generator"}, signer=signer,
                       test_certificate=(info.get("issuer") == TEST_ORG), problems=failures[:3])
