"""A persona carried to a second home (issue: people in a hurry, item 4) is used from the
terminal UI there: listed in Identities, chosen, unlocked with the journey's passphrase, and
what it posts is signed by the same author key as on the first home. (The CLI's export and
import, and a burn covering both homes, are tests/cli/test_cli_carry.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from stig.crypto.carry import carry_code, keyfile_from_code
from stig.crypto.keyfile import MEMLIMIT_MIN, OPSLIMIT_MIN, decode_keyfile, encode_keyfile
from stig.node.keyring import Keyring
from stig.tui.dialogs.passphrase import PassphraseScreen
from stig.tui.screens.identities import IdentitiesScreen
from tests.tui.homes import ANA, fill, make_home, story
from tests.tui.test_tui_flows import SIZE, app_for, rows, settle, table, until

pytestmark = pytest.mark.timeout(180)
JOURNEY = "a long way home"


async def test_a_carried_persona_posts_as_the_same_author_from_the_tui(tmp_path: Path) -> None:
    first = make_home(tmp_path / "first", ANA)
    second = make_home(tmp_path / "second")  # its own persona, "me"
    await fill(second, story())
    # what `stig id export ana` writes on the first home and `stig id import CODE` reads
    persona = Keyring(first.personas).load("ana")
    data = encode_keyfile(persona, JOURNEY, opslimit=OPSLIMIT_MIN, memlimit=MEMLIMIT_MIN)
    carried = keyfile_from_code(carry_code(data))
    Keyring(second.personas).add(decode_keyfile(carried, JOURNEY).name, carried)

    app = app_for(second)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, IdentitiesScreen), "identities")
        personas = app.screen.query_one("#personas", DataTable)
        names = [str(personas.get_row_at(row)[1]) for row in range(personas.row_count)]
        assert names == ["ana", "me"]
        personas.move_cursor(row=0)
        await pilot.press("enter")
        await until(pilot, lambda: app.session.persona_name == "ana", "the carried persona")
        await pilot.press("f", "c", *"posted on the second home", "ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PassphraseScreen), "its passphrase")
        await pilot.press(*JOURNEY, "enter")
        await until(pilot, lambda: "posted on the second home" in rows(app), "the post")
        posted = next(i.trace for i in table(app).items if i.trace.body.startswith("posted on"))
        assert posted.author == ANA.public_key == persona.public_key
