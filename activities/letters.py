"""The outbox: letters to the applicant, the lawyer and the return service, as PDF files.

A letter is sent when its PDF lies in the outbox directory and its row is in the registry's
``letters`` table; whatever picks letters up (post, e-mail, the lawyer portal) reads from
there.  ``(application_id, key, recipient)`` is the idempotency key: a retried activity
finds the row and returns it instead of writing a second letter.

The wording lives in Jinja2 templates (``templates/<kind>.txt.j2``, Dutch, one per
``LetterKind``); the workflow supplies only non-personal facts (dates, places, the list of
missing documents) and names and addresses are read from the registry here, so personal
data never passes through workflow history.  fpdf2's core fonts know only Latin-1: every
text is folded into Latin-1 first (``latin1``), so a name such as "Łukasz Nguyễn" prints
as "Lukasz Nguyen" instead of crashing the activity.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2
import structlog
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.registry_db import ApplicantRow, LetterRow, Registry, model_of, new_row, require_case, utcnow
from domain.deadlines import AMSTERDAM, Period, Rule, Unit, compute
from domain.identifiers import APPLICATION_ID_PATTERN
from domain.messages import LetterKind, LetterRef, LettersSent, Recipient, SendLetter
from domain.policy import VW2000, References, policy_by_id
from infra import metrics

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

# A key or application id that is not a plain file-name fragment is a bug in the caller;
# retrying cannot fix it.
INVALID_LETTER = "InvalidLetter"
# A letter that would go out without its deadline or appointment is legally useless.
LETTER_FACTS_MISSING = "LetterFactsMissing"

LETTER_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

# The facts without which a letter of that kind must not be sent.
# The application's letters that cite articles name the policy version they cite from.
REQUIRED_FACTS: Mapping[LetterKind, tuple[str, ...]] = {
    LetterKind.ACKNOWLEDGEMENT: ("decide_by", "policy_version"),
    LetterKind.DOCUMENTS_MISSING: ("repair_by", "policy_version"),
    LetterKind.INTERVIEW_INVITATION: ("interview_at", "location"),
    LetterKind.INTENDED_DECISION: ("outcome", "respond_by", "policy_version"),
    LetterKind.DECISION: ("outcome", "policy_version"),
    LetterKind.NOT_PROCESSED: ("appeal_by", "policy_version"),
    LetterKind.DECISION_PERIOD_EXTENDED: ("decide_by", "months", "policy_version"),
    LetterKind.RETURN_HANDOVER: ("policy_version",),
    LetterKind.FINE: ("amount",),
}

DEFAULT_SIGNATORY = (
    "De Minister van Asiel en Migratie,",
    "namens deze,",
    "de Immigratie- en Naturalisatiedienst",
)

MONTHS_NL = (
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
)  # fmt: skip

OUTCOME_DECIDED = {
    "granted": "ingewilligd",
    "inadmissible": "niet-ontvankelijk verklaard",
    "manifestly_unfounded": "afgewezen als kennelijk ongegrond",
    "unfounded": "afgewezen als ongegrond",
    "not_processed": "buiten behandeling gesteld",
}
OUTCOME_INTENDED = {
    "granted": "in te willigen",
    "inadmissible": "niet-ontvankelijk te verklaren",
    "manifestly_unfounded": "af te wijzen als kennelijk ongegrond",
    "unfounded": "af te wijzen als ongegrond",
}
# The intended outcome as a noun phrase, for the intended-decision letter's subject.
OUTCOME_INTENDED_SUBJECT = {
    "inadmissible": "niet-ontvankelijk te verklaren",
    "manifestly_unfounded": "af te wijzen als kennelijk ongegrond",
    "unfounded": "af te wijzen als ongegrond",
}
# Kept for templates of the permit's letters; the application's letters cite the articles
# of the case's own policy version (``refs(facts)``, issue 9 point 13).
OUTCOME_ARTICLE = dict(VW2000.references.outcome)


def refs(facts: Mapping[str, str]) -> References:
    """The legal references of the policy version a letter's case is decided under."""
    policy_id = facts.get("policy_version", "")
    try:
        return policy_by_id(policy_id).references
    except KeyError:
        # REQUIRED_FACTS makes the application letters that cite articles name their
        # version; any other letter cites Vw 2000, as it did before the versions existed.
        return VW2000.references


# Characters with no Latin-1 form that NFKD does not take apart into letter + accent.
_FOLD = {
    "€": "EUR", "‘": "'", "’": "'", "‚": ",", "‛": "'", "“": '"', "”": '"', "„": '"',
    "‹": "<", "›": ">", "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "…": "...",
    "•": "-", "‧": "-", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "Ħ": "H",
    "ı": "i", "ĸ": "k", "ŋ": "ng", "Ŋ": "NG", "œ": "oe", "Œ": "OE", "ŧ": "t", "Ŧ": "T",
    "ə": "e", "Ə": "E", "ſ": "s", "ʼ": "'", "ʻ": "'", "\u200b": "", "\u2009": " ",
    "\u202f": " ", "\u2007": " ", "\ufeff": "",
}  # fmt: skip


def latin1(text: str) -> str:
    """Fold text into Latin-1 for fpdf2's core fonts, keeping it as readable as possible.

    Latin-1 letters (é, ë, ü, ß, ø) stay; other accented letters lose the accent
    (ễ -> e, ś -> s, ğ -> g); a few have a fixed spelling (ł -> l, € -> EUR); anything else
    (a name in Arabic script, say) becomes "?", never an exception.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\t", "    "))
    out: list[str] = []
    for ch in text:
        if ord(ch) < 256:
            if ch == "\n" or unicodedata.category(ch) != "Cc":
                out.append(ch)
            continue
        if ch in _FOLD:
            out.append(_FOLD[ch])
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if base and all(ord(c) < 256 for c in base):
            out.append(base)
        elif base:
            out.append("".join(_FOLD.get(c, c if ord(c) < 256 else "?") for c in base))
        # a lone combining mark folds to nothing
    return "".join(out)


# --- template filters: Dutch dates and amounts -------------------------------------------------


def _when(value: object) -> date | datetime | None:
    """Read the date formats the workflow uses in facts (ISO, or dd-mm-YYYY HH:MM)."""
    if isinstance(value, datetime | date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            pass
    for fmt in ("%d-%m-%Y %H:%M", "%d-%m-%Y"):
        try:
            parsed = datetime.strptime(text, fmt).replace(tzinfo=AMSTERDAM)
        except ValueError:
            continue
        return parsed if "%H" in fmt else parsed.date()
    return None


def datum(value: object) -> str:
    """'2026-12-04' -> '4 december 2026'; an unreadable value is printed as given."""
    when = _when(value)
    if when is None:
        return str(value)
    if isinstance(when, datetime):
        when = (when.astimezone(AMSTERDAM) if when.tzinfo else when).date()
    return f"{when.day} {MONTHS_NL[when.month - 1]} {when.year}"


def moment(value: object) -> str:
    """A date with its Dutch time: '4 december 2026 om 14:00 uur'."""
    when = _when(value)
    if not isinstance(when, datetime):
        return datum(value)
    local = when.astimezone(AMSTERDAM) if when.tzinfo else when
    return f"{datum(local.date())} om {local:%H:%M} uur"


def bedrag(value: object) -> str:
    """'1500' -> '€ 1.500,00' (the euro sign is folded to EUR when printed)."""
    try:
        amount = Decimal(str(value).replace("€", "").replace("EUR", "").strip().replace(",", "."))
    except InvalidOperation:
        return str(value)
    whole, cents = f"{amount:,.2f}".split(".")
    # A no-break space keeps "EUR" and the amount on one line.
    return f"€\u00a0{whole.replace(',', '.')},{cents}"


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    given_names: str
    family_name: str
    v_number: str
    date_of_birth: date
    nationality: str

    @property
    def full_name(self) -> str:
        return f"{self.given_names} {self.family_name}"


@dataclass(frozen=True)
class _Lawyer:
    name: str
    email: str


class FooterPDF(FPDF):
    """A4 portrait with one centred footer line on every page (the letters and the case file).

    ``{page}`` in the footer is the page number; fpdf2 itself fills in ``{nb}``, the count.
    """

    def __init__(self, footer: str, *, footer_y: float, footer_height: float) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer, self._footer_y, self._footer_height = footer, footer_y, footer_height

    def footer(self) -> None:
        self.set_y(self._footer_y)
        self.set_font("Helvetica", size=8)
        self.cell(0, self._footer_height, self._footer.replace("{page}", str(self.page_no())), align="C")


def render_pdf(text: str, reference: str, title: str, letter_date: date) -> bytes:
    """Lay out a rendered template: '# ' subject, '## ' heading, '- ' bullet, else paragraph."""
    pdf = FooterPDF(f"Kenmerk {latin1(reference)} - pagina {{page}}/{{nb}}", footer_y=-15, footer_height=10)
    pdf.set_title(latin1(title))
    pdf.set_author("Immigratie- en Naturalisatiedienst")
    pdf.set_creator("hasa")
    # A fixed creation date keeps a re-rendered letter byte-identical on the same day.
    pdf.set_creation_date(datetime.combine(letter_date, time(0, 0), tzinfo=UTC))
    pdf.set_margins(left=25, top=20, right=20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=13)
    pdf.cell(0, 7, "Immigratie- en Naturalisatiedienst", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_draw_color(0, 70, 127)
    pdf.line(25, pdf.get_y() + 1, 190, pdf.get_y() + 1)
    pdf.ln(8)
    blank = False
    for raw in latin1(text).splitlines():
        line = raw.rstrip()
        if not line:
            if not blank:
                pdf.ln(3)
            blank = True
            continue
        blank = False
        if line.startswith("## "):
            pdf.set_font("Helvetica", style="B", size=10)
            pdf.multi_cell(0, 5, line[3:], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        elif line.startswith("# "):
            pdf.set_font("Helvetica", style="B", size=11)
            pdf.multi_cell(0, 6, line[2:], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        elif line.startswith("- "):
            pdf.set_font("Helvetica", size=10)
            pdf.set_x(pdf.l_margin + 4)
            pdf.cell(4, 5, "-")
            pdf.multi_cell(0, 5, line[2:], align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            pdf.set_font("Helvetica", size=10)
            pdf.multi_cell(0, 5, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _environment(templates_dir: Path) -> jinja2.Environment:
    # Plain text laid out into a PDF, not HTML: there is nothing to escape.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(datum=datum, moment=moment, bedrag=bedrag)
    env.globals.update(
        OUTCOME_DECIDED=OUTCOME_DECIDED,
        OUTCOME_INTENDED=OUTCOME_INTENDED,
        OUTCOME_INTENDED_SUBJECT=OUTCOME_INTENDED_SUBJECT,
        OUTCOME_ARTICLE=OUTCOME_ARTICLE,
        refs=refs,
    )
    return env


def _one_line(text: str) -> str:
    # A bullet or fact spanning lines would break the line-based layout.
    return " ".join(text.split())


class LetterOutbox:
    """Renders letters into ``outbox_dir/<application_id>/<key>-<recipient>.pdf`` and records them."""

    def __init__(
        self,
        outbox_dir: Path | str,
        registry: Registry,
        *,
        templates_dir: Path = TEMPLATES_DIR,
        signatory: tuple[str, ...] = DEFAULT_SIGNATORY,
    ) -> None:
        self.outbox_dir = Path(outbox_dir)
        self._registry = registry
        self._signatory = signatory
        self._env = _environment(templates_dir)
        missing = [k.value for k in LetterKind if not (templates_dir / f"{k.value}.txt.j2").is_file()]
        if missing:
            # Fail at worker start, not in the middle of a case years from now.
            raise FileNotFoundError(f"no letter template for: {', '.join(missing)}")

    def render_text(
        self, letter: SendLetter, recipient: Recipient, applicant: _Person, lawyer: _Lawyer | None, today: date
    ) -> str:
        template = self._env.get_template(f"{letter.kind.value}.txt.j2")
        return template.render(
            kind=letter.kind.value,
            recipient=recipient.value,
            application_id=letter.application_id,
            letter_date=today,
            applicant=applicant,
            lawyer=lawyer,
            facts={k: _one_line(v) for k, v in letter.facts.items()},
            items=[_one_line(i) for i in letter.items],
            signatory=self._signatory,
        )

    def send(self, letter: SendLetter) -> list[LetterRef]:
        """Write and record the letter for each recipient; existing ones are returned as they are."""
        return self.deliver(letter).letters

    def deliver(self, letter: SendLetter) -> LettersSent:
        """``send``, and when the letter was handed over (the first copy's record).

        A period that starts on hand-over (``letter.period``, issue 9 point 15) is computed
        from that instant and written into the letter, so a 4-hour repair period cannot end
        before the letter exists; a retry finds the recorded instant and writes the same end.
        """
        log = structlog.get_logger().bind(application_id=letter.application_id)
        if not re.fullmatch(APPLICATION_ID_PATTERN, letter.application_id) or not LETTER_KEY_PATTERN.fullmatch(letter.key):
            raise ApplicationError(
                "a letter key is letters, digits, '.', '_' and '-' (at most 100)",
                type=INVALID_LETTER,
                non_retryable=True,
            )
        computed = {letter.period.fact} if letter.period is not None else set()
        absent = [f for f in REQUIRED_FACTS.get(letter.kind, ()) if f not in computed and not letter.facts.get(f, "").strip()]
        if absent:
            raise ApplicationError(
                f"a {letter.kind.value} letter needs the facts: {', '.join(absent)}",
                type=LETTER_FACTS_MISSING,
                non_retryable=True,
            )

        with self._registry.transaction() as session:
            require_case(session, letter.application_id)
            row = session.scalar(select(ApplicantRow).where(ApplicantRow.application_id == letter.application_id))
            existing = {
                r.recipient: r
                for r in session.scalars(
                    select(LetterRow).where(LetterRow.application_id == letter.application_id, LetterRow.key == letter.key)
                )
            }
        if row is None:  # register_case writes case and applicant together; this is a broken registry
            raise ApplicationError(f"case {letter.application_id} has no applicant", type=INVALID_LETTER, non_retryable=True)
        applicant = _Person(row.given_names, row.family_name, row.v_number, row.date_of_birth, row.nationality)
        lawyer = _Lawyer(row.lawyer_name, row.lawyer_email or "") if row.lawyer_name else None
        first = existing.get(Recipient.APPLICANT.value) or next(iter(existing.values()), None)
        handed_over_at = _aware(first.created_at) if first is not None else utcnow()
        if letter.period is not None:
            spec = letter.period
            period = Period(spec.amount, Unit(spec.unit), Rule(spec.rule), spec.basis)
            due = compute(handed_over_at, period).due
            letter = letter.model_copy(update={"facts": {**letter.facts, spec.fact: due.isoformat()}})

        refs: list[LetterRef] = []
        for recipient in dict.fromkeys(letter.recipients):
            done = existing.get(recipient.value)
            if done is None:
                if recipient is Recipient.LAWYER and lawyer is None:
                    log.info("letter_skipped_no_lawyer", kind=letter.kind.value, key=letter.key)
                    continue
                done = self._write(letter, recipient, applicant, lawyer, handed_over_at)
                log.info("letter_written", kind=letter.kind.value, key=letter.key, recipient=recipient.value)
                metrics.letter_rendered(letter.kind)
            refs.append(self._ref(done))
        return LettersSent(letters=refs, handed_over_at=handed_over_at if refs else None)

    def _write(
        self, letter: SendLetter, recipient: Recipient, applicant: _Person, lawyer: _Lawyer | None, handed_over_at: datetime
    ) -> LetterRow:
        today = _letter_date(letter)
        text = self.render_text(letter, recipient, applicant, lawyer, today)
        pdf = render_pdf(text, letter.application_id, f"IND {letter.kind.value}", today)
        relative = Path(letter.application_id) / f"{letter.key}-{recipient.value}.pdf"
        _write_atomically(self.outbox_dir / relative, pdf)
        with self._registry.transaction() as session:
            require_case(session, letter.application_id)  # one writer per case at a time (PostgreSQL row lock)
            # Looked up again: a concurrent attempt of the same activity may have won.
            row = session.scalar(
                select(LetterRow).filter_by(application_id=letter.application_id, key=letter.key, recipient=recipient.value)
            )
            if row is None:
                row = new_row(
                    LetterRow,
                    letter,
                    recipient=recipient.value,
                    path=relative.as_posix(),
                    sha256=hashlib.sha256(pdf).hexdigest(),
                    # The applicant's copy records the hand-over instant the periods start from.
                    created_at=handed_over_at if recipient is Recipient.APPLICANT else utcnow(),
                )
                session.add(row)
                session.flush()
        return row

    def _ref(self, row: LetterRow) -> LetterRef:
        return model_of(LetterRef, row, letter_id=row.id, path=str(self.outbox_dir / row.path))


def _aware(moment: datetime) -> datetime:
    """A recorded instant as an aware UTC datetime (a database may hand back a naive one)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _letter_date(letter: SendLetter) -> date:
    """The ``letter_date`` fact when the workflow gives one (its own clock), else today."""
    given = _when(letter.facts.get("letter_date", ""))
    if isinstance(given, datetime):
        return (given.astimezone(AMSTERDAM) if given.tzinfo else given).date()
    if isinstance(given, date):
        return given
    return datetime.now(AMSTERDAM).date()


def _write_atomically(target: Path, data: bytes) -> None:
    # Letters name the applicant: owner-only folder, and mkstemp's 0600 file moved into place.
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".pdf", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class LetterActivities:
    """The ``send_letter`` activity, for letters the workflows send on their own."""

    def __init__(self, outbox: LetterOutbox) -> None:
        self._outbox = outbox

    def activities(self) -> list[Callable[..., Any]]:
        """The bound activity methods, for ``Worker(activities=...)``."""
        return [self.send_letter]

    @activity.defn(name="send_letter")
    def send_letter(self, request: SendLetter) -> LettersSent:
        return self._outbox.deliver(request)
