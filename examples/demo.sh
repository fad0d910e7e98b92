#!/usr/bin/env bash
# The example audit cycle, end to end, in a fresh workspace. Run it with `make demo`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
demo="${DEMO_DIR:-}"
if [ -z "$demo" ]; then demo="$(mktemp -d -t qaudit-demo-XXXXXX)"; fi
ws="$demo/workspace"

echo "== qaudit init: a workspace with the example settings"
qaudit init "$ws"
cp "$here/qaudit.toml" "$ws/qaudit.toml"

echo
echo "== qaudit staff import: who works where, their email and who manages them (synthetic)"
qaudit -w "$ws" staff import "$here/staff.csv"

echo
echo "== qaudit plan: the year's eight six-week cycles (C2 and C3 fall in the example export)"
qaudit -w "$ws" plan 2026-27 --start 29/06/2026

echo
echo "== The first cycle of this small year, 2026-27 C2: drawn with the plan's window, its"
echo "   forms filled and taken back"
qaudit -w "$ws" allocate "$here/case-export.xlsx" --cycle "2026-27 C2" --seed 20260921 \
  > "$demo/c2-allocate.txt"
tail -n 3 "$demo/c2-allocate.txt"
python3 "$here/fill_forms.py" "$ws/cycles/2026-27-C2" "$demo/c2-returns" --seed 3
qaudit -w "$ws" ingest "$demo/c2-returns" > "$demo/c2-ingest.txt"
tail -n 2 "$demo/c2-ingest.txt"
qaudit -w "$ws" moderate select --cycle "2026-27 C2" --seed 2 > /dev/null
python3 "$here/fill_forms.py" "$ws/cycles/2026-27-C2" "$demo/c2-moderated" --moderation --seed 2
qaudit -w "$ws" moderate ingest "$demo/c2-moderated/2026-27-C2-moderation.xlsx"
qaudit -w "$ws" ri --cycle "2026-27 C2" --json > "$demo/c2-ri.json"
mapfile -t ri_refs < <(python3 -c \
  'import json, sys; print("\n".join(i["reference"] for i in json.load(open(sys.argv[1]))))' \
  "$demo/c2-ri.json")
ri_first="${ri_refs[0]}"
echo "The team managers' corrective actions for the ${#ri_refs[@]} Requires improvement audits:"
for ref in "${ri_refs[@]}"; do
  qaudit -w "$ws" ri record "$ref" --step corrective-action --on 01/11/2026 \
    --note "Supervision on recording the person's views"
done

cycle=(--cycle "2026-27 C3" --seed 20261125)

echo
echo "== qaudit allocate: draw cycle 2026-27 C3 from the example export, with the plan's"
echo "   window and due date"
qaudit -w "$ws" allocate "$here/case-export.xlsx" "${cycle[@]}"

echo
echo "== Anyone can check the draw: the recorded seed gives the same cases (dry run)"
qaudit -w "$ws" allocate "$here/case-export.xlsx" "${cycle[@]}" --dry-run --json \
  > "$demo/check.json"
python3 - "$demo/check.json" "$ws/cycles/2026-27-C3/register.xlsx" <<'PY'
import json, sys
from openpyxl import load_workbook
drawn = [a["record_id"] for a in json.load(open(sys.argv[1]))["allocations"]]
sheet = load_workbook(sys.argv[2], read_only=True)["Allocations"]
registered = [row[5] for row in sheet.iter_rows(min_row=2, values_only=True)]
same = drawn == registered
print(f"{len(drawn)} cases redrawn from the seed: {'identical to' if same else 'DIFFERENT from'}"
      " the register, row for row.")
sys.exit(0 if same else 1)
PY

echo
echo "== qaudit send allocations: each Service Manager's workbook, as a draft in the outbox"
qaudit -w "$ws" send allocations --cycle "2026-27 C3"

echo
echo "== The Service Managers name an auditor for each case; ingest reads their choices back"
python3 "$here/fill_forms.py" "$ws/cycles/2026-27-C3" "$demo/allocations" --managers --seed 7
qaudit -w "$ws" ingest "$demo/allocations"

echo
echo "== qaudit send forms: the audit form to each named auditor and, in the same run, the"
echo "   self-reflection form to each practitioner"
qaudit -w "$ws" send forms --cycle "2026-27 C3"
echo "A second run sends nothing twice:"
qaudit -w "$ws" send forms --cycle "2026-27 C3"

echo
echo "== Auditors and practitioners fill the forms (examples/fill_forms.py) and send them back"
python3 "$here/fill_forms.py" "$ws/cycles/2026-27-C3" "$demo/returns" --seed 7 \
  --named "$demo/allocations" --mistakes "$demo/returns-with-mistakes"

echo
echo "== qaudit ingest: take the returns back"
qaudit -w "$ws" ingest "$demo/returns"

echo
echo "== Some forms came back wrong: ingest refuses them whole and says why (exit status 1)"
if qaudit -w "$ws" ingest "$demo/returns-with-mistakes"; then
  echo "expected these forms to be refused" >&2; exit 1
fi

echo
echo "== The same returns again change nothing"
qaudit -w "$ws" ingest "$demo/returns"

echo
echo "== qaudit moderate: the Practice Leads moderate 20% of the returned audits"
qaudit -w "$ws" moderate select --cycle "2026-27 C3" --seed 4
python3 "$here/fill_forms.py" "$ws/cycles/2026-27-C3" "$demo/moderated" --moderation --seed 4
qaudit -w "$ws" moderate ingest "$demo/moderated/2026-27-C3-moderation.xlsx"
qaudit -w "$ws" moderate stats --cycle "2026-27 C3"
qaudit -w "$ws" moderate learning --cycle "2026-27 C3" --anonymise \
  --out "$demo/moderation-learning-workshop.md"

echo
echo "== Who still holds what, and what is late (the person to chase, days overdue)"
qaudit -w "$ws" status --cycle "2026-27 C3" --by auditor
qaudit -w "$ws" status --cycle "2026-27 C3" --overdue
echo
echo "== qaudit send reminders (whatever is overdue today) and the feedback packs"
qaudit -w "$ws" send reminders --cycle "2026-27 C3"
qaudit -w "$ws" send feedback --cycle "2026-27 C3"
audits=("$demo"/returns/*-audit.xlsx)  # a glob, sorted: no pipe for pipefail to trip on
first="$(basename "${audits[0]}" -audit.xlsx)"
echo "The reflective conversation with the practitioner of $first took place:"
qaudit -w "$ws" feedback record "$first" --on "$(date +%d/%m/%Y)" \
  --note "Line manager supervision"

echo
echo "== The Requires improvement monitoring list and the escalations"
qaudit -w "$ws" ri --cycle "2026-27 C3"
qaudit -w "$ws" escalations

echo
echo "== qaudit status and qaudit report: where the cycle stands, and the Board summary"
qaudit -w "$ws" status --cycle "2026-27 C3"
printf "Record the person's own words, and say how the outcomes meet their wishes.\n" \
  > "$demo/psw-message.txt"
qaudit -w "$ws" report --cycle "2026-27 C3" --message "$demo/psw-message.txt" \
  --format both --format docx
if command -v chromium >/dev/null || command -v google-chrome >/dev/null \
    || command -v msedge >/dev/null || [ -n "${QAUDIT_BROWSER:-}" ]; then
  qaudit -w "$ws" report --cycle "2026-27 C3" --kind summary --format pdf \
    --message "$demo/psw-message.txt"
else
  echo "(no Chromium, Chrome or Edge here: the PDF copy of the summary is left out)"
fi
echo
echo "== qaudit send reports: each quadrant's outcome report to its directors and Service"
echo "   Managers, the highlights to the Senior Practitioners' Network"
qaudit -w "$ws" send reports --cycle "2026-27 C3"

echo
echo "== The year beyond the cycles. A deep dive directed by the Practice Governance Board:"
echo "   its own terms of reference and question set, drawn at random from the filtered export"
qaudit -w "$ws" deep-dive new "2026-27 Safeguarding voice" "$here/case-export.xlsx" \
  --terms "$here/deep-dive-terms.toml" --question-set deep_dive_safeguarding_voice \
  --filter audit-type=safeguarding_s42 --n 8 --from 10/08/2026 --to 01/11/2026 --seed 11 \
  > "$demo/deep-dive.txt"
tail -n 4 "$demo/deep-dive.txt"
python3 "$here/fill_forms.py" "$ws/cycles/2026-27-Safeguarding-voice" "$demo/deep-dive-returns" \
  --seed 5
qaudit -w "$ws" ingest "$demo/deep-dive-returns" > "$demo/deep-dive-ingest.txt"
tail -n 2 "$demo/deep-dive-ingest.txt"
qaudit -w "$ws" report --deep-dive "2026-27 Safeguarding voice"

echo
echo "== Re-audits: a later piece of work of each practitioner whose Requires improvement"
echo "   audit has its corrective action recorded (one cycle later, in this small year)"
qaudit -w "$ws" reaudit list
qaudit -w "$ws" reaudit select "$here/case-export.xlsx" --after "2026-27 C3" --min-cycles 1 \
  --from 02/11/2026 --to 20/11/2026 --seed 7 > "$demo/reaudit.txt"
tail -n 4 "$demo/reaudit.txt"
python3 "$here/fill_forms.py" "$ws/cycles/2026-27-C3-re-audits" "$demo/reaudit-returns" --seed 9
qaudit -w "$ws" ingest "$demo/reaudit-returns" > "$demo/reaudit-ingest.txt"
tail -n 2 "$demo/reaudit-ingest.txt"
qaudit -w "$ws" reaudit stats
qaudit -w "$ws" ri show "$ri_first"

echo
echo "== Audit the auditor: a workshop grades the same anonymised cases, and their agreement"
echo "   is measured"
qaudit -w "$ws" workshop make "2026-27 Q2 workshop" --cases 6 --participants 5 \
  --from-cycle "2026-27 C2" --held "$(date +%d/%m/%Y)" --seed 5
python3 "$here/fill_workshop.py" "$ws/workshops/2026-27-Q2-workshop" "$demo/workshop-returns" \
  --seed 7
qaudit -w "$ws" workshop ingest "$demo/workshop-returns"
qaudit -w "$ws" workshop stats "2026-27 Q2 workshop"
qaudit -w "$ws" plan show 2026-27

echo
echo "== The year for the Board: every regular cycle's figures, month by month, with the"
echo "   deep dive, the re-audits and the workshop; and the analysts' data set"
qaudit -w "$ws" status --year 2026-27
qaudit -w "$ws" report --kind year --year 2026-27
qaudit -w "$ws" export --anonymise --out "$demo/qaudit-data-anonymised.xlsx"
qaudit -w "$ws" export --format csv --out "$demo/qaudit-data-csv"

echo
echo "== qaudit purge: retention (a dry run: nothing in this young year is old enough)"
qaudit -w "$ws" purge --before 29/06/2026 --dry-run

echo
echo "Demo workspace: $ws"
echo "  Register:              $ws/cycles/2026-27-C3/register.xlsx"
echo "  Service Manager books: $ws/cycles/2026-27-C3/service-managers/"
echo "  Audit forms:           $ws/cycles/2026-27-C3/audit-forms/"
echo "  Self-reflection forms: $ws/cycles/2026-27-C3/self-reflection/"
echo "  Returned forms:        $demo/returns/"
echo "  Moderation workbook:   $ws/cycles/2026-27-C3/moderation/2026-27-C3-moderation.xlsx"
echo "  Workshop learning:     $demo/moderation-learning-workshop.md"
echo "  Board summary:         $ws/cycles/2026-27-C3/reports/2026-27-C3-summary.html"
echo "                         (and .docx for Word; .pdf where a browser prints it)"
echo "  Data for analysts:     $demo/qaudit-data-csv/ (one CSV per table, and a dictionary)"
echo "  Year report:           $ws/reports/2026-27-year.html"
echo "  Deep dive report:      $ws/cycles/2026-27-Safeguarding-voice/reports/"
echo "  Workshop pack:         $ws/workshops/2026-27-Q2-workshop/"
echo "  Outbox (drafts):       $ws/cycles/2026-27-C3/outbox/ (open a .eml in Outlook or"
echo "                         Thunderbird: it opens as a draft ready to send)"
