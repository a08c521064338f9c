"""Every command, every path argument, every wrong kind of path: exit status 1 and one line
that names the path and what was expected, never a traceback or a usage panel.

The property runs over a matrix: each command starts from arguments that work, and one path
at a time is replaced by something it cannot take (missing, a folder for a file, a file for
a folder, a folder without what it needs, a file of the wrong format)."""
import itertools
import json

import pytest
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_ptuning.cli import app

from util import blank, encoder_cfg, sentiment_texts, textcat_examples, train

CONLL = "-DOCSTART- O\n\nJohn B-PER\nvisited O\nLondon B-LOC\n"


@pytest.fixture(scope="module")
def places(bert_dir, tmp_path_factory):
    """Paths of every kind the commands take, valid and not."""
    root = tmp_path_factory.mktemp("cli-paths")
    nlp = blank()
    nlp.add_pipe("ptuning_textcat", config={"model": {"encoder": encoder_cfg(bert_dir)}})
    examples = textcat_examples(nlp, sentiment_texts(4))
    train(nlp, examples, n_iter=1)
    nlp.to_disk(root / "pipeline")
    DocBin(docs=[eg.reference for eg in examples]).to_disk(root / "dev.spacy")
    (root / "train.conll").write_text(CONLL, encoding="utf8")
    (root / "in.jsonl").write_text(json.dumps({"text": "a good film"}) + "\n", encoding="utf8")
    (root / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (root / "notes.txt").write_text("not what any command reads\n", encoding="utf8")
    (root / "empty").mkdir()
    (root / "broken").mkdir()
    (root / "broken" / "config.cfg").write_text("[nlp\nlang = en\n", encoding="utf8")
    return {
        "pipeline": root / "pipeline", "backbone": bert_dir, "dev": root / "dev.spacy", "conll": root / "train.conll",
        "jsonl": root / "in.jsonl", "junk": root / "junk.bin", "file": root / "notes.txt", "empty": root / "empty",
        "broken": root / "broken", "missing": root / "no" / "such" / "path", "out_dir": root / "out",
        "out_file": root / "out" / "result.json",
    }


# command -> (arguments with {placeholders}, {placeholder: the wrong things that can stand in it})
WRONG_FOLDER = ("missing", "file", "empty", "junk")
COMMANDS = {
    "convert": (["convert", "{conll}", "{out_dir}"], {"conll": ("missing", "empty", "junk"), "out_dir": ("file",)}),
    "evaluate": (
        ["evaluate", "{pipeline}", "{dev}", "-t", "textcat"],
        {"pipeline": WRONG_FOLDER + ("broken",), "dev": ("missing", "junk", "file", "empty")},
    ),
    "evaluate-output": (
        ["evaluate", "{pipeline}", "{dev}", "-t", "textcat", "-o", "{out_file}"], {"out_file": ("empty",)},
    ),
    "info": (["info", "{pipeline}"], {"pipeline": WRONG_FOLDER + ("broken",)}),
    "init-config": (["init-config", "ner", "{out_file}"], {"out_file": ("empty",)}),
    "package": (["package", "{pipeline}", "{out_dir}", "-n", "x"], {"pipeline": WRONG_FOLDER, "out_dir": ("file",)}),
    "backbone": (["backbone", "{backbone}", "{out_dir}", "-n", "x"], {"backbone": WRONG_FOLDER, "out_dir": ("file",)}),
    "ray-annotate": (
        ["ray-annotate", "{pipeline}", "{jsonl}", "{out_file}"],
        {"pipeline": WRONG_FOLDER, "jsonl": ("missing", "empty"), "out_file": ("empty",)},
    ),
}
CASES = [
    (command, slot, wrong)
    for command, (_, slots) in COMMANDS.items()
    for slot, wrongs in slots.items()
    for wrong in wrongs
]


@pytest.mark.parametrize("command,slot,wrong", CASES, ids=[f"{c}-{s}-{w}" for c, s, w in CASES])
def test_a_wrong_path_fails_in_one_line_naming_it(places, command, slot, wrong):
    template, _ = COMMANDS[command]
    given = dict(places, **{slot: places[wrong]})
    args = [part.format(**{k: str(v) for k, v in given.items()}) for part in template]
    result = CliRunner().invoke(app, args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1, result.output
    assert str(places[wrong]) in lines[0] or places[wrong].name in lines[0], lines[0]
    assert "Traceback" not in result.output and "Usage:" not in result.output


def test_every_command_is_in_the_matrix():
    names = {command.name for command in app.registered_commands}
    assert names == {template[0] for template, _ in COMMANDS.values()}


def test_the_matrix_starts_from_arguments_that_work(places, tmp_path):
    """The baseline of each row (no path replaced) passes the path checks, so each failure
    above is the replaced path's. ray-annotate and package run their whole job elsewhere."""
    given = {k: str(v) for k, v in places.items()}
    for command in ("convert", "evaluate", "info", "init-config", "backbone"):
        template, _ = COMMANDS[command]
        args = [part.format(**given) for part in template]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (command, result.output)


def test_jsonl_lines_are_split_as_json_lines_define_them():
    """Every line in gives one line out, in order, whatever it holds: empty, blank, not UTF-8,
    a raw U+2028 or form feed inside a string, CRLF, a byte order mark, no final newline."""
    from spacy_ptuning.jsonl import json_lines, parse_line

    kinds = [
        b"", b"   ", b"\xff\xfe not utf-8", json.dumps({"text": "a\u2028b"}, ensure_ascii=False).encode(),
        json.dumps({"text": "page\x0cbreak"}).encode(), b'{"text": "x"}\r', b"[1, 2]", b"{not json", b"\x00",
        json.dumps({"text": "fine", "question": "why?"}).encode(), json.dumps({"text": 3}).encode(),
    ]
    for n, combo in enumerate(itertools.product(kinds, repeat=3)):
        for ending, bom in ((b"\n", b""), (b"", b""), (b"\n", b"\xef\xbb\xbf")):
            data = bom + b"\n".join(combo) + ending
            lines = json_lines(data)
            ambiguous = ending == b"" and combo[-1] == b""  # the same bytes as two lines and a final newline
            assert len(lines) == (2 if ambiguous else 3), (combo, ending)
            parsed = [parse_line(raw) for raw in lines]
            for raw, row in zip(combo, parsed):
                assert set(row) == {"record", "text", "question", "error"}
                assert (row["error"] is None) == (row["text"] is not None)
    assert parse_line(b"\xff\xfe not utf-8")["error"] == "not UTF-8: byte 0xff at column 1"
    assert parse_line(json.dumps({"text": "a\u2028b"}, ensure_ascii=False).encode())["text"] == "a\u2028b"
