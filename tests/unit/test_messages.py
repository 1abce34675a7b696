"""Every message a guest, a door or an organizer can be shown says what to do: its last
sentence holds an instruction (an imperative: "Indica…", "Escolhe…", "Tenta…"), never a bare
"Email inválido." The messages come from every place that writes one: the SQL functions'
refusals and field errors (sql/*.sql, read from the source), the app's code table
(errors.CODES), its own field rules (inputs.py, readers.py, jobs.py), the error page, and the
page scripts (static/guest.js, door.js, console.js, promoter.js, staff.js). A text that is not
a refusal (a greeting, a status line) is named in a reviewed list below."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guestlist.web import inputs, jobs, page, readers
from guestlist.web.errors import CODES
from guestlist.web.inputs import Field

ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = ROOT / "sql"
STATIC = ROOT / "guestlist" / "web" / "static"
# every page script whose texts people read: the guest's, the door's, the console's
PAGE_SCRIPTS = ("guest.js", "door.js", "console.js", "promoter.js", "staff.js")
GUEST_HTML = ROOT / "guestlist" / "web" / "static" / "guest.html"
# The page's own refusals written in its HTML: the closed list.
HTML_REFUSAL_IDS = ("closed-text",)

# pt-PT imperatives (tu) the messages use; a clitic after a hyphen is allowed (Confirma-os).
IMPERATIVES = frozenset(
    [
        "abre",
        "apaga",
        "atualiza",
        "confirma",
        "corrige",
        "cria",
        "define",
        "deixa",
        "encurta",
        "entra",
        "envia",
        "escolhe",
        "escreve",
        "espera",
        "faz",
        "fala",
        "indica",
        "lê",
        "pede",
        "preenche",
        "procura",
        "submete",
        "tenta",
        "usa",
        "verifica",
    ]
)

# sql/60_admin.sql is the operators' (admin.*), as are these texts of admin functions kept in
# shared files (admin.set_setting, admin.set_retention): never shown to a guest. Each must still
# be found, so the list cannot outlive the texts.
ADMIN_FILES = frozenset({"60_admin.sql"})
ADMIN_ONLY = frozenset(
    {"Configuração desconhecida.", "Valor inválido para ", "Organização não encontrada."}
)

# Sentences of the guest page that are no refusal: progress, greetings, notes, confirmations.
NOT_REFUSALS = frozenset(
    {
        "Estamos a confirmar a tua entrada na lista.",
        "Sem rede: este é o código guardado neste dispositivo.",
        "Mostra este código à entrada.",
        "Lista de convidados",
        "Estás na lista!",
        "Olá de novo!",
        "N, estás na lista!",
        "Lista de N",
        "N · Lista de convidados",
        "O teu pedido está na fila. Não feches esta página.",
        # the countdown under the lock's warning (which itself says what to do)
        "Podes tentar de novo daqui a N.",
        "O bloqueio terminou neste dispositivo.",
        # a queued job's error while it waits to be run again: the server retries, not the guest
        "Erro temporário. O pedido vai ser repetido.",
        # the console's and the door's confirmations and status lines
        "Quota de N guardada.",
        "N juntou-se à equipa.",
        "N código(s) admitido(s) em duas portas enquanto estavam sem rede: "
        "a primeira leitura conta.",
        "Sem rede: as entradas ficam pendentes e são enviadas quando a rede voltar.",
        "Entrada de N anulada.",
    }
)

_SQL_TEXT = r"'((?:[^']|'')*)'"
# 'message', '…' | app._raise(400, 'code', '…' | app._refusal('code', '…' | WHEN 'code' THEN '…'
# | app._invalid_field('field', '…'
# | v_chars constant text := '…'; a literal may go on in an adjacent one on the next line
_SQL_MESSAGE = re.compile(
    r"(?:'message',\s*|app\._raise\(\s*\d+\s*,\s*'\w+'\s*,\s*|app\._refusal\(\s*'\w+'\s*,\s*"
    r"|app\._invalid_field\(\s*'\w+'\s*,\s*"
    r"|WHEN\s+'\w+'\s+THEN\s+|v_chars constant text := )"
    rf"{_SQL_TEXT}((?:\s*\n\s*{_SQL_TEXT})*)"
)


def sql_messages() -> dict[str, str]:
    """{message: file} of every literal message in sql/*.sql (admin's included)."""
    found: dict[str, str] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        if path.name in ADMIN_FILES:
            continue
        for match in _SQL_MESSAGE.finditer(path.read_text(encoding="utf-8")):
            text = match[1] + "".join(re.findall(_SQL_TEXT, match[2] or ""))
            found[text.replace("''", "'")] = path.name
    return found


def app_messages() -> dict[str, str]:
    """{message: where} of the app's own texts."""
    found = {text: f"errors.CODES[{code}]" for code, (_, text) in CODES.items()}
    for module in (inputs, readers, jobs):
        for name, value in vars(module).items():
            if name.startswith("MSG_") or name == "JOB_NOT_FOUND":
                found[value] = f"{module.__name__}.{name}"
            if isinstance(value, tuple) and value and all(isinstance(f, Field) for f in value):
                for spec in value:
                    for _, text in spec.messages:
                        found[text] = f"{module.__name__}.{name}[{spec.key}]"
    for status, (_, text) in page._MESSAGES.items():
        found[text] = f"page._MESSAGES[{status}]"
    return found


def js_messages() -> dict[str, str]:
    """{sentence: script} of the page scripts' texts: string literals joined across `+`, a
    template's ${…} read as N, kept when they read as a sentence (a capital, a space, a stop)."""
    found: dict[str, str] = {}
    for name in PAGE_SCRIPTS:
        source = (STATIC / name).read_text(encoding="utf-8")
        source = re.sub(r"(['`])\s*\+\s*\n\s*(['`])", "", source)  # 'a ' +\n 'b' → 'a b'
        for quote, text in re.findall(r"(['`])((?:(?!\1)[^\\\n]|\\.)*)\1", source):
            text = re.sub(r"\$\{[^}]*\}", "N", text) if quote == "`" else text
            if re.fullmatch(r"[A-ZÀ-Ý].* .*[.!?]", text):
                found[text] = name
    return found


def html_messages() -> dict[str, str]:
    """{text: 'guest.html#id'} of the refusals the page's HTML writes itself."""
    source = GUEST_HTML.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for element_id in HTML_REFUSAL_IDS:
        match = re.search(rf'id="{element_id}"[^>]*>(.*?)</', source, re.S)
        assert match is not None, element_id
        found[" ".join(match[1].split())] = f"guest.html#{element_id}"
    return found


def last_sentence(text: str) -> str:
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    return sentences[-1] if sentences else ""


def says_what_to_do(text: str) -> bool:
    """The last sentence holds an imperative (a hyphenated clitic allowed: Confirma-os)."""
    words = re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", last_sentence(text))
    return any(word.split("-")[0].lower() in IMPERATIVES for word in words)


SQL = sql_messages()
APP = app_messages()
JS = js_messages()
HTML = html_messages()


def test_the_sources_are_read() -> None:
    # the extraction finds what it should, so an empty list cannot pass for a clean one
    assert "Escolhe uma das opções de género." in SQL
    assert "Indica um email válido, como nome@exemplo.pt." in SQL
    assert any("Esqueci-me da palavra-passe" in text for text in SQL)  # two literals, joined
    assert len(SQL) >= 30
    assert "Escolhe uma das opções de género." in APP
    assert inputs.MSG_PHONE_REQUIRED in APP
    assert len(APP) >= 40
    assert "Escolhe uma das opções de género." in JS
    assert any(text.startswith("Atenção: se a próxima palavra-passe") for text in JS)
    assert len(JS) >= 25
    assert SQL.keys() >= ADMIN_ONLY, ADMIN_ONLY - SQL.keys()


@pytest.mark.parametrize(
    ("source", "messages"),
    [
        ("sql", {k: v for k, v in SQL.items() if k not in ADMIN_ONLY}),
        ("app", APP),
        ("js", JS),
        ("html", HTML),
    ],
)
def test_every_message_says_what_to_do(source: str, messages: dict[str, str]) -> None:
    mute = {
        text: where
        for text, where in messages.items()
        if text not in NOT_REFUSALS and not says_what_to_do(text)
    }
    assert mute == {}


def test_the_same_words_where_sql_and_the_app_share_a_code() -> None:
    # a refusal reads the same whether SQL or the app's fallback wrote it
    sql_by_code = {
        "invalid_input": "Dados inválidos. Corrige os campos assinalados.",
        "phone_exists": "Este telemóvel já está registado. Entra com a tua palavra-passe.",
    }
    for code, text in sql_by_code.items():
        assert text in SQL
        assert CODES[code][1] == text
    for code in (
        "invalid_credentials",
        "account_locked",
        "event_not_found",
        "promoter_not_found",
        "guest_list_closed",
        "guest_list_full",
        "rate_limited",
        "page_not_found",
        "session_invalid",
        "job_not_found",
    ):
        assert CODES[code][1] in SQL, code


@pytest.mark.parametrize(
    "text",
    [
        "Email inválido.",
        "Género inválido.",
        "Campo obrigatório",
        "Dados inválidos",
        "Sessão inválida ou expirada.",
        "A lista de convidados está fechada",
        "Demasiadas tentativas falhadas. Tenta novamente mais tarde. Obrigado.",
    ],
)
def test_a_bare_message_is_caught(text: str) -> None:
    assert not says_what_to_do(text)


@pytest.mark.parametrize(
    "text",
    [
        "Indica um email válido, como nome@exemplo.pt.",
        "Telemóvel ou palavra-passe incorretos. Confirma-os e tenta de novo.",
        "O teu pedido expirou antes de ser processado. Submete-o novamente.",
    ],
)
def test_an_instruction_is_recognised(text: str) -> None:
    assert says_what_to_do(text)
