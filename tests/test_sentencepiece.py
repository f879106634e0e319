"""mtp's SentencePiece tokenizer (src/data/tokenizer_spm*.c) against the
sentencepiece library itself (python3-sentencepiece).

Models are trained here with sentencepiece: one as Llama 2's was made (BPE,
byte_fallback, split_digits, add_dummy_prefix, identity normalization,
extra whitespace kept) and one with the library's defaults plus
user-defined symbols and no byte fallback (rare characters become <unk>).
On thousands of texts from ../shared/data (stories, plays, Python code) and
Unicode edge cases, `mtp tokenizer encode --tokenizer M.model` must give
sentencepiece's ids exactly, and `mtp tokenizer decode` its DecodeIds text
(random id sequences with broken UTF-8 byte runs included). The
tokenizer.json that `mtp prepare` writes for such a model (Hugging Face
Llama type) must encode the same way in mtp, and in Hugging Face's
tokenizers.js where npm could install it.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BUILD", "build")
MTP = os.environ.get("MTP", os.path.join(HERE, "..", BUILD, "mtp"))
DATA = os.environ.get("MTP_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
NPM = os.path.join(HERE, "..", "build", "npm", "node_modules")

try:
    import sentencepiece as spm
except ImportError:
    print("skip: python3-sentencepiece is not installed")
    sys.exit(77)
if not os.access(MTP, os.X_OK):
    print(f"skip: {MTP} not built")
    sys.exit(77)
if not os.path.isdir(DATA):
    print(f"skip: the shared data folder {DATA} is absent")
    sys.exit(77)

failures = []


def fail(msg):
    print("FAIL:", msg)
    failures.append(msg)


EDGE = [
    "", " ", "  ", "\t", "\n", " leading", "trailing ", "two  spaces", "   three", "a\tb\nc\r\nd",
    "naïve café", "Ünïcödé ñ", "e\u0301 (combining acute)", "日本語のテキスト", "한국어 텍스트", "中文，标点。",
    "العربية من اليمين", "עברית", "Ελληνικά", "Кириллица", "emoji 😀🎉 👩‍👩‍👧‍👦 family", "🏳️‍🌈 flags 🇫🇷",
    "digits 0123456789 3.14159 1,000,000", "x²+y³=z⁴", "fullwidth ＡＢＣ１２３", "\u2581 the space symbol \u2581\u2581",
    "<s> </s> <unk> <0x41> literal specials", "\ufffd replacement", "zero\u200bwidth\u200djoiner", "\u00a0nbsp\u00a0",
    "tab\tsep\tvalues", "    indented code()", "def f(x):\n    return x ** 2\n", "a" * 300, "ab" * 150 + " end",
    "mixed 123abc456 def", "\u0007bell \u001b[0mescape", "🙂" * 20, "ｶﾀｶﾅ halfwidth", "ß ẞ ﬁ ligature",
]


def corpus_texts(rng):
    texts = []
    with open(os.path.join(DATA, "tinystories", "tinystories_val_prefix.txt"), encoding="utf-8",
              errors="replace") as f:
        texts += [l for l in f.read(600_000).splitlines() if l.strip()][:2500]
    with open(os.path.join(DATA, "tinyshakespeare", "input.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    texts += ["\n".join(lines[i:i + 3]) for i in range(0, 4500, 3)]
    code = os.path.join(DATA, "python_code")
    tars = sorted(n for n in os.listdir(code) if n.endswith(".tar.xz")) if os.path.isdir(code) else []
    if tars:
        with tarfile.open(os.path.join(code, tars[0])) as t:
            for m in t:
                if len(texts) > 5200:
                    break
                if m.isfile() and m.name.endswith(".py") and m.size < 40_000:
                    src = t.extractfile(m).read().decode("utf-8", errors="replace")
                    texts += [src[i:i + 400] for i in range(0, min(len(src), 2000), 400)]
    rng.shuffle(texts)
    return texts


def train(prefix, text_file, **kw):
    spm.SentencePieceTrainer.train(input=text_file, model_prefix=prefix, model_type="bpe", minloglevel=2,
                                   num_threads=2, **kw)
    return prefix + ".model"


def mtp_encode(tok, texts):
    inp = "".join(json.dumps(t) + "\n" for t in texts)
    r = subprocess.run([MTP, "tokenizer", "encode", "--tokenizer", tok, "--json-lines"], input=inp,
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"encode with {tok}: {r.stderr.strip()}")
        return None
    return [[int(x) for x in l.split()] for l in r.stdout.split("\n")[: len(texts)]]


def compare_encode(what, tok, sp, texts, want_of=None):
    got = mtp_encode(tok, texts)
    if got is None:
        return
    want_of = want_of or sp.encode
    bad = [(t, w, g) for t, w, g in zip(texts, (want_of(t) for t in texts), got) if w != g]
    for t, w, g in bad[:5]:
        fail(f"{what}: {t[:60]!r}: sentencepiece {w[:20]} mtp {g[:20]}")
    print(f"{what}: {len(texts) - len(bad)} of {len(texts)} texts give sentencepiece's ids")


def compare_decode(what, tok, sp, seqs):
    bad = 0
    for ids in seqs:
        r = subprocess.run([MTP, "tokenizer", "decode", "--tokenizer", tok, "--ids", " ".join(map(str, ids))],
                           capture_output=True)
        want = sp.decode(ids).encode("utf-8")
        if r.returncode != 0 or r.stdout != want:
            bad += 1
            if bad <= 5:
                fail(f"{what}: ids {ids[:12]}: sentencepiece {want[:60]!r} mtp {r.stdout[:60]!r} {r.stderr[:80]!r}")
    print(f"{what}: {len(seqs) - bad} of {len(seqs)} id sequences decode as sentencepiece's")


def main():
    rng = random.Random(0)
    tmp = tempfile.mkdtemp()
    texts = corpus_texts(rng)
    train_file = os.path.join(tmp, "train.txt")
    with open(train_file, "w", encoding="utf-8") as f:
        f.write("\n".join(t.replace("\n", " ") for t in texts[:3000]))
    tests = EDGE + texts[3000:]

    llama = train(os.path.join(tmp, "llama"), train_file, vocab_size=2000, byte_fallback=True, split_digits=True,
                  add_dummy_prefix=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
                  allow_whitespace_only_pieces=True, character_coverage=0.9999, unk_id=0, bos_id=1, eos_id=2)
    sp = spm.SentencePieceProcessor(model_file=llama)
    compare_encode("llama-style model", llama, sp, tests)
    seqs = [sp.encode(t) for t in tests[:150]]
    n = sp.vocab_size()
    byte_ids = [i for i in range(n) if sp.id_to_piece(i).startswith("<0x")]
    for _ in range(60):  # random pieces with runs of (mostly broken) byte pieces and control ids
        seqs.append([rng.choice([rng.randrange(n), rng.choice(byte_ids), rng.choice(byte_ids), 1, 2])
                     for _ in range(rng.randrange(1, 12))])
    # leading spaces: only the first piece's is the dummy prefix (pieces of spaces alone, then words)
    space = sp.piece_to_id("\u2581")
    seqs += [sp.encode("    indented code()"), sp.encode(" x"), [space, space] + sp.encode("the fox"),
             [1, space] + sp.encode("the"), [space] + sp.encode(" return x")]
    compare_decode("llama-style model", llama, sp, seqs)

    plain = train(os.path.join(tmp, "plain"), train_file, vocab_size=1500, character_coverage=0.98,
                  normalization_rule_name="identity",
                  user_defined_symbols=["<sep>", "##"], split_digits=False)
    sp2 = spm.SentencePieceProcessor(model_file=plain)
    compare_encode("default-normalization model (extra whitespace removed, <unk>, user symbols)", plain, sp2,
                   [t.replace("the", "<sep>the##") for t in tests[:2000]] + EDGE)

    # tokenizer.json written by mtp prepare for the Llama-style model
    data = os.path.join(tmp, "data")
    r = subprocess.run([MTP, "prepare", "--tokenizer", llama, "--out", data, train_file], capture_output=True,
                       text=True)
    if r.returncode != 0:
        fail(f"prepare with a tokenizer.model: {r.stderr.strip()}")
    else:
        tj = os.path.join(data, "tokenizer.json")
        compare_encode("its tokenizer.json (Hugging Face Llama type)", tj, sp, tests)
        # eval-choice scores a choice's tokens as running text has them: " mat" after a query is
        # what the query and the choice give together past the query's own ids (no second dummy
        # prefix "▁")
        run = os.path.join(tmp, "run")
        r = subprocess.run([MTP, "train", "--data", data, "--out", run, "--steps", "1", "--n-layer", "2",
                            "--n-future", "1", "--dim", "32", "--n-head", "2", "--seq-len", "32", "--batch", "2",
                            "--threads", "1", "--eval-every", "0"], capture_output=True, text=True)
        items = os.path.join(tmp, "choice.jsonl")
        query, choices = "The cat sat on the", ["mat", "old dog", "sofa."]
        with open(items, "w", encoding="utf-8") as f:
            f.write(json.dumps({"query": query, "choices": choices, "gold": 0}) + "\n")
        want = 0
        for c in choices:
            q, joint = sp.encode(query), sp.encode(query + " " + c)
            assert joint[:len(q)] == q, (query, c)
            want += len(joint) - len(q)
        r2 = subprocess.run([MTP, "eval-choice", "--model", run, "--data", items, "--json", "--threads", "1"],
                            capture_output=True, text=True) if r.returncode == 0 else r
        got = json.loads(r2.stdout.strip().splitlines()[-1]).get("tokens") if r2.returncode == 0 else None
        if got != want:
            fail(f"eval-choice with a SentencePiece model scored {got} tokens, running text has {want} "
                 f"({r2.stderr.strip()[:200]})")
        # the newer Llama tokenizer.json layout: no normalizer, a Metaspace pre-tokenizer
        with open(tj, encoding="utf-8") as f:
            doc = json.load(f)
        doc["normalizer"] = None
        doc["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first",
                                "split": False}
        meta = os.path.join(tmp, "metaspace.json")
        with open(meta, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        # Metaspace prepends its "\u2581" only to a text that does not start with one or a space (as
        # Hugging Face's tokenizers do): such a text encodes as sentencepiece's of the text without
        # that first character, whose dummy prefix stands in for it ("\u2581" alone for " ")
        def metaspace_ids(t):
            if not t.startswith((" ", "\u2581")):
                return sp.encode(t)
            return sp.encode(t[1:]) if t[1:] else [space]

        compare_encode("a Metaspace-style Llama tokenizer.json", meta, sp, tests[:500] + [" the quick", "  two"],
                       metaspace_ids)
        # a merge listed twice: the last rank wins (as in Hugging Face's tokenizers), so the file
        # encodes as one with that merge moved to the end; and writing it back (prepare) holds
        merges = doc["model"]["merges"]
        dup, moved = json.loads(json.dumps(doc)), json.loads(json.dumps(doc))
        dup["model"]["merges"] = merges + [merges[0]]
        moved["model"]["merges"] = merges[1:] + [merges[0]]
        paths = [os.path.join(tmp, "dupmerge.json"), os.path.join(tmp, "movedmerge.json")]
        for d, path in zip((dup, moved), paths):
            with open(path, "w", encoding="utf-8") as f:
                json.dump(d, f)
        a, b = mtp_encode(paths[0], tests[:300]), mtp_encode(paths[1], tests[:300])
        if a is None or a != b:
            fail("a merge listed twice: not encoded as with its last rank")
        r = subprocess.run([MTP, "prepare", "--tokenizer", paths[0], "--out", os.path.join(tmp, "dupdata"),
                            train_file], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"prepare with a merge listed twice: exit {r.returncode}: {r.stderr.strip()[:200]}")
        # an added token past the model's vocabulary (a <pad> at id n) is a piece of its own; a gap
        # before such an id is refused
        nv = len(doc["model"]["vocab"])
        padded, gap = json.loads(json.dumps(doc)), json.loads(json.dumps(doc))
        pad = {"id": nv, "content": "<pad>", "single_word": False, "lstrip": False, "rstrip": False,
               "normalized": False, "special": True}
        padded["added_tokens"].append(pad)
        gap["added_tokens"].append(dict(pad, id=nv + 1))
        paths = [os.path.join(tmp, "padded.json"), os.path.join(tmp, "gap.json")]
        for d, path in zip((padded, gap), paths):
            with open(path, "w", encoding="utf-8") as f:
                json.dump(d, f)
        got = mtp_encode(paths[0], tests[:300]) or []
        diff = [(t, g) for t, g in zip(tests[:300], got) if g != metaspace_ids(t)]  # (doc is Metaspace's)
        if len(got) != 300 or diff:
            fail(f"an added token past the vocabulary: other ids for {len(diff)} texts, e.g. {diff[:1]}")
        r = subprocess.run([MTP, "tokenizer", "decode", "--tokenizer", paths[0], "--ids", f"{nv - 1} {nv}"],
                           capture_output=True)
        if r.returncode != 0 or r.stdout != sp.decode([nv - 1]).encode("utf-8"):
            fail(f"decoding an added control token past the vocabulary: exit {r.returncode} {r.stdout!r} {r.stderr!r}")
        r = subprocess.run([MTP, "tokenizer", "encode", "--tokenizer", paths[1]], input="x", capture_output=True,
                           text=True)
        if r.returncode == 0 or f"id {nv}, past the {nv} of model.vocab" not in r.stderr:
            fail(f"a gap before an added token's id: exit {r.returncode}, {r.stderr.strip()[:160]}")
        node_ok = shutil.which("node") is not None
        if node_ok and os.path.isdir(os.path.join(NPM, "@huggingface", "tokenizers")):
            sample = os.path.join(tmp, "sample.txt")
            # Hugging Face matches added tokens ("<s>") inside text; sentencepiece does not
            text = "\n".join(t for t in tests[:300] if not any(x in t for x in ("<s>", "</s>", "<unk>")))
            with open(sample, "w", encoding="utf-8") as f:
                f.write(text)
            js = os.path.join(tmp, "js")  # ES modules resolve packages from the script's folder
            os.makedirs(js)
            shutil.copy(os.path.join(HERE, "hf_encode.mjs"), js)
            os.symlink(os.path.abspath(NPM), os.path.join(js, "node_modules"))
            r = subprocess.run(["node", os.path.join(js, "hf_encode.mjs"), tj, sample], capture_output=True,
                               text=True)
            if r.returncode != 0:
                fail(f"tokenizers.js could not load the tokenizer.json: {r.stderr.strip()[:300]}")
            elif json.loads(r.stdout) != sp.encode(text):
                got, want = json.loads(r.stdout), sp.encode(text)
                i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
                fail(f"tokenizers.js encodes the written tokenizer.json differently from sentencepiece at id {i}: "
                     f"{[sp.id_to_piece(x) for x in want[max(0, i - 3):i + 4]]} vs "
                     f"{[sp.id_to_piece(x) for x in got[max(0, i - 3):i + 4]]}")
            else:
                print("tokenizers.js reads the written tokenizer.json and agrees with sentencepiece")
            # and the Metaspace layout on texts that start with a space or "\u2581"
            for k, t in enumerate([" the quick brown fox", "  two spaces", "\u2581 the symbol", "plain start"]):
                one = os.path.join(tmp, f"meta{k}.txt")
                with open(one, "w", encoding="utf-8") as f:
                    f.write(t)
                r = subprocess.run(["node", os.path.join(js, "hf_encode.mjs"), meta, one], capture_output=True,
                                   text=True)
                mine = mtp_encode(meta, [t])
                if r.returncode != 0 or mine is None or json.loads(r.stdout) != mine[0]:
                    fail(f"Metaspace tokenizer.json on {t!r}: tokenizers.js {r.stdout.strip()[:80]} "
                         f"{r.stderr.strip()[:80]}, mtp {mine and mine[0]}")
        else:
            print("note: tokenizers.js not installed; its check is skipped")

    # a document longer than prepare's 1 MiB pieces: <s> + sentencepiece's ids of the whole text + </s>
    play = os.path.join(DATA, "tinyshakespeare", "input.txt")
    r = subprocess.run([MTP, "prepare", "--tokenizer", llama, "--val-fraction", "0", "--out",
                        os.path.join(tmp, "play"), play], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"prepare of a long document: {r.stderr.strip()}")
    else:
        import numpy as np
        shard = open(os.path.join(tmp, "play", "train_000000.bin"), "rb").read()
        header = np.frombuffer(shard[:1024], dtype="<i4")
        got = np.frombuffer(shard[1024:], dtype="<u2")[: header[2]].tolist()
        with open(play, encoding="utf-8") as f:
            text = f.read()
        want = [sp.bos_id()] + sp.encode(text) + [sp.eos_id()]
        if got != want:
            i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
            fail(f"a {len(text.encode())}-byte document prepared in pieces differs from sentencepiece at token {i} "
                 f"of {len(want)}")
        else:
            print(f"a {len(text.encode())}-byte document prepared in pieces: {len(want)} ids as sentencepiece's")

    # bad model files: one error line each
    for name, blob in [("empty.model", b""), ("garbage.model", bytes(range(256)) * 3),
                       ("truncated.model", open(llama, "rb").read()[:5000])]:
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(blob)
        r = subprocess.run([MTP, "tokenizer", "encode", "--tokenizer", path, "--text", "x"], capture_output=True,
                           text=True)
        if r.returncode == 0 or r.returncode >= 128 or len(r.stderr.strip().splitlines()) != 1:
            fail(f"{name}: exit {r.returncode}, stderr {r.stderr.strip()!r}")

    if failures:
        print(f"test_sentencepiece: {len(failures)} failures")
        sys.exit(1)
    print("test_sentencepiece: all checks passed")


main()
