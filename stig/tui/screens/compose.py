"""Compose a trace: kind, text, tags, place, time to live, refs, persona, and where to — the
public space or an affinity group, there optionally as "a member of" it rather than as the
persona. Errors show inline, with the reason, and nothing is lost: the form stays as typed until
it posts."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TextArea

from stig.crdt import kinds
from stig.crdt.bounds import DEFAULT_TTL, MAX_BODY_BYTES
from stig.crdt.normal_form import normalize_place, normalize_tag
from stig.crdt.trace import Trace
from stig.errors import InvalidTrace, StigError
from stig.node.local import Draft
from stig.readable import parse_duration, span
from stig.tui.dialogs.ask import confirmed
from stig.tui.messages import SessionChanged
from stig.tui.posting import post
from stig.tui.session import Session
from stig.tui.spaces import PUBLIC, as_group, space_options

POSTABLE = (kinds.CALLOUT, kinds.ACTION, kinds.REPORT, kinds.NOTE)


def split_words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


class ComposeScreen(ModalScreen[Trace | None]):
    BINDINGS = [
        Binding("ctrl+s", "post", "Post"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(
        self, session: Session, answering: Trace | None = None, *, group: str | None = None
    ) -> None:
        """``group``: where it goes by default (an answer goes where what it answers is)."""
        super().__init__()
        self.session = session
        self.answering = answering
        self.group = group

    def compose(self) -> ComposeResult:
        target = self.answering
        if target is None:
            kind, title = kinds.CALLOUT, "Leave a trace"
        else:
            kind = kinds.ACTION if target.kind == kinds.CALLOUT else kinds.NOTE
            title = f"Answer {target.kind} {target.hex_id[:12]}"
        keyring = self.session.node.keyring
        names = keyring.names()
        with VerticalScroll(id="compose-box"):
            yield Label(title, classes="title")
            with Horizontal(classes="row"):
                yield Label("kind", classes="field")
                yield Select([(k, k) for k in POSTABLE], value=kind, allow_blank=False, id="kind")
                yield Label("as", classes="field")
                yield Select(
                    [(n, n) for n in names],
                    value=self.session.persona_name
                    if self.session.persona_name in names
                    else Select.BLANK,
                    allow_blank=not names,
                    id="persona",
                )
            groups = self.session.node.groups.names()
            to = self.group if self.group in groups else PUBLIC
            with Horizontal(classes="row"):
                yield Label("to", classes="field")
                yield Select(
                    space_options(groups),
                    value=to or PUBLIC,
                    allow_blank=False,
                    id="to",
                    # an answer stays in the thread's space
                    disabled=target is not None,
                )
                yield Checkbox(
                    "anonymous within the group",
                    id="anonymous",
                    disabled=not to,
                    tooltip="signed by the group's shared key: members see 'a member of' it",
                )
            yield TextArea(id="body")
            with Horizontal(classes="row"):
                yield Label("tags", classes="field")
                yield Input(
                    " ".join(target.tags) if target else "",
                    placeholder="housing j20",
                    id="tags",
                )
                yield Label("place", classes="field")
                yield Input(
                    target.place if target else "", placeholder="geohash, e.g. u09t", id="place"
                )
            with Horizontal(classes="row"):
                yield Label("fades in", classes="field")
                yield Input(span(DEFAULT_TTL), placeholder="90m, 12h, 3d, 2w", id="ttl")
                yield Label("refs", classes="field")
                yield Input(
                    target.hex_id if target else "", placeholder="ids it answers", id="refs"
                )
            yield Static("", id="compose-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Post  ctrl+s", variant="primary", id="post")
                yield Button("Cancel  esc", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#body", TextArea).focus()

    @on(Select.Changed, "#to")
    def to_chosen(self, event: Select.Changed) -> None:
        anonymous = self.query_one("#anonymous", Checkbox)
        anonymous.disabled = as_group(event.value) is None
        if anonymous.disabled:
            anonymous.value = False

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.query_one("#body", TextArea).text.strip():
            self._discard()
        else:
            self.dismiss(None)

    @work(exclusive=True, group="compose-discard")
    async def _discard(self) -> None:
        """Esc with text written: asked first, so a stray key does not lose it."""
        if await confirmed(
            self.app,
            "Discard what you wrote? It is not posted, nor kept anywhere. "
            "Type yes to discard; Esc goes back to it.",
        ):
            self.dismiss(None)

    @on(Button.Pressed, "#post")
    def pressed_post(self) -> None:
        self.action_post()

    def action_post(self) -> None:
        self._post()

    def _fail(self, message: str) -> None:
        self.query_one("#compose-error", Static).update(message)

    @work(exclusive=True, group="compose")
    async def _post(self) -> None:
        try:
            draft = await self._draft()
        except (InvalidTrace, StigError, ValueError) as exc:
            self._fail(str(exc))
            return
        group = as_group(self.query_one("#to", Select).value)
        anonymous = self.query_one("#anonymous", Checkbox).value
        if anonymous and group is None:
            self._fail("anonymous only means something inside a group: choose one in 'to'")
            return
        persona = self.query_one("#persona", Select).value
        if isinstance(persona, str) and persona != self.session.persona_name:
            self.session.persona_name = persona
            self.post_message(SessionChanged())
        try:
            trace = await post(self, self.session, draft, group=group, anonymous=anonymous)
        except InvalidTrace as exc:
            self._fail(f"not posted — {exc.reason.value}: {exc.detail}")
            return
        except StigError as exc:
            self._fail(f"not posted — {exc}")
            return
        self.dismiss(trace)

    async def _draft(self) -> Draft:
        body = self.query_one("#body", TextArea).text.strip()
        size = len(body.encode())
        if size > MAX_BODY_BYTES:
            raise StigError(f"the text is {size} bytes; at most {MAX_BODY_BYTES} fit in a trace")
        kind = str(self.query_one("#kind", Select).value)
        group = as_group(self.query_one("#to", Select).value)
        tags = tuple(dict.fromkeys(normalize_tag(w) for w in split_words(self._text("#tags"))))
        place = normalize_place(self._text("#place"))
        ttl_text = self._text("#ttl").strip()
        ttl = parse_duration(ttl_text) if ttl_text else None
        refs = []
        for word in split_words(self._text("#refs")):
            refs.append(await self.session.node.resolve(word, group=group))
        if kind in kinds.REF_REQUIRED_KINDS and not refs:
            raise StigError(f"a {kind} is about another trace: give its id in refs")
        if not body and kind not in kinds.REF_REQUIRED_KINDS:
            raise StigError("write something first: the text is empty")
        return Draft(kind=kind, body=body, tags=tags, place=place, ttl=ttl, refs=tuple(refs))

    def _text(self, selector: str) -> str:
        return self.query_one(selector, Input).value
