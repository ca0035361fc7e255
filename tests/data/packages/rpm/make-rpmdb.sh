#!/usr/bin/env bash
# How tests/data/packages/rpm/ was made (run once by hand on Debian 12, not by the tests).
# Needs Debian's `rpm` (4.18: rpmbuild, sqlite rpmdb backend), `gpg`, and Debian's own
# /usr/bin/python3 (its dbm.ndbm is Berkeley DB 5.3). Writes into the directory given, default
# this script's directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. Three tiny packages (noarch with an epoch; x86_64 with a -devel sub-package).
for spec in "$here"/SPECS/*.spec; do
  rpmbuild --define "_topdir $work" --define '_build_id_links none' --target x86_64 \
    -bb "$spec" >/dev/null 2>&1
done

# 2. A SQLite rpmdb with them installed (--justdb: headers only), plus an imported key
#    (rpm stores it as the pseudo-package gpg-pubkey).
db="$work/db"
mkdir "$db"
rpm --define '_db_backend sqlite' --dbpath "$db" --initdb
rpm --define '_db_backend sqlite' --dbpath "$db" -i --justdb --nodeps --ignorearch --ignoreos \
  "$work"/RPMS/*/*.rpm 2>/dev/null
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key 'ociinspect test key <test@example.invalid>' \
  rsa2048 sign never 2>/dev/null
gpg --armor --export >"$work/key.asc"
rpm --dbpath "$db" --import "$work/key.asc"
cp "$db/rpmdb.sqlite" "$out/rpmdb.sqlite"

# 3. What rpm itself says is installed: the expected output of the tests.
rpm --dbpath "$db" -qa --qf \
  '%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}\n' \
  | LC_ALL=C sort >"$out/rpmdb.qa.txt"

# 4. The same headers in a real Berkeley DB hash file, shaped like rpm's old Packages database
#    (key: header number, native 32-bit; key 0: the next number), written by libdb 5.3.
/usr/bin/python3 - "$out/rpmdb.sqlite" "$work/Packages" <<'PY'
import dbm.ndbm, sqlite3, struct, sys
rows = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro&immutable=1", uri=True).execute(
    "SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
db = dbm.ndbm.open(sys.argv[2], "n")
db[struct.pack("<I", 0)] = struct.pack("<I", rows[-1][0] + 1)
for hnum, blob in rows:
    db[struct.pack("<I", hnum)] = blob
db.close()
PY
cp "$work/Packages.db" "$out/Packages"

# 5. An empty NDB Packages.db (SUSE), laid out as rpm's lib/backend/ndb/rpmpkg.c writes one:
#    32-byte header (magic "RpmP", version 0, generation 0, 1 slot page, next index 1), then the
#    rest of the slot page filled with empty "Slot" entries. rpm 4.18 on Debian has no NDB
#    backend to write one with.
python3 - "$out/Packages.db" <<'PY'
import struct, sys
page = bytearray(4096)
struct.pack_into("<4sIIII", page, 0, b"RpmP", 0, 0, 1, 1)
for offset in range(32, 4096, 16):
    struct.pack_into("<4sIII", page, offset, b"Slot", 0, 0, 0)
open(sys.argv[1], "wb").write(page)
PY
