#!/usr/bin/env bash
# Checks a built .deb: its control fields (name, dependencies the app needs at
# run time), that every file lies under the expected prefixes, that the CLI,
# the app, the chunking tokenizer, the SBOM and the desktop entry are there,
# and that no maintainer script is shipped (none may touch user data).
#   installer/check-deb.sh FILE.deb
set -euo pipefail
deb=$1
fail() { echo "check-deb: $deb: $*" >&2; exit 1; }

[ "$(dpkg-deb -f "$deb" Package)" = sillok ] || fail "package name is not sillok"
depends=$(dpkg-deb -f "$deb" Depends)
for need in libwebkit2gtk-4.1-0 tesseract-ocr-kor tesseract-ocr-eng poppler-utils fonts-nanum libgomp1; do
  grep -qw -- "$need" <<<"$depends" || fail "Depends lacks $need: $depends"
done

# Paths as dpkg -L shows them: /usr/bin/sillok, whatever the archive's spelling.
files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed -E 's|^\./|| ; s|^|/| ; s|/$||')
outside=$(grep -vE '^/$|^/usr$|^/usr/(bin|share|share/doc)$|^/usr/bin/sillok(-desktop)?$|^/usr/share/(sillok|doc/sillok|applications|icons)(/|$)' <<<"$files" || true)
[ -z "$outside" ] || fail "files outside the expected prefixes: $outside"
for want in /usr/bin/sillok /usr/bin/sillok-desktop /usr/share/sillok/chunk-tokenizer.json \
  /usr/share/doc/sillok/sillok.cdx.json /usr/share/doc/sillok/sillok-desktop.cdx.json; do
  grep -qx -- "$want" <<<"$files" || fail "missing $want"
done
grep -q '^/usr/share/applications/.*\.desktop$' <<<"$files" || fail "no desktop entry"

scripts=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t | grep -E 'preinst|postinst|prerm|postrm' || true)
[ -z "$scripts" ] || fail "maintainer scripts shipped: $scripts"
echo "check-deb: $deb ok ($(wc -l <<<"$files") entries, Depends: $depends)"
