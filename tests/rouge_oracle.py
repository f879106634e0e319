#!/usr/bin/env python3
"""rouge_oracle.py: an independent ROUGE for tests/test_eval_rouge.sh.

Written from the definitions of Google's rouge-score (rouge_scorer.py,
tokenize.py), not from the C code: lowercase with Python's str.lower(), every
run of characters outside [a-z0-9] becomes a space, split on whitespace,
optionally Porter-stem tokens longer than 3 characters with nltk's
PorterStemmer() (only then is nltk imported); ROUGE-N from n-gram Counters
with clipped overlap, ROUGE-L from the LCS table.

  rouge_oracle.py gen DIR SEED N          random pairs: DIR/{pred,ref}.txt (plain lines),
                                          DIR/{pred,ref}.jsonl, DIR/pairs_{txt,jsonl}.json
                                          ([target, prediction] lists), DIR/words.txt
  rouge_oracle.py check PAIRS PER_ITEM SUMMARY [--stem]
                                          compares mtp's --per-item JSONL and --json output
  rouge_oracle.py pairs PRED_JSONL XSUM_JSONL N OUT
                                          [summary, text] pairs of the first N items
  rouge_oracle.py stems WORDS STEMS       compares stems (one per line) with nltk's
"""
import collections
import json
import random
import re
import sys


def tokenize(text, stemmer=None):
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    tokens = [t for t in text.split() if t]
    if stemmer is not None:
        tokens = [stemmer.stem(t) if len(t) > 3 else t for t in tokens]
    return [t for t in tokens if re.fullmatch(r"[a-z0-9]+", t)]


def prf(overlap, n_pred, n_target):
    p = overlap / max(n_pred, 1)
    r = overlap / max(n_target, 1)
    return (p, r, 2 * p * r / (p + r) if p + r > 0 else 0.0)


def rouge_n(target, pred, n):
    grams = lambda toks: collections.Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))
    t, p = grams(target), grams(pred)
    overlap = sum(min(c, p[g]) for g, c in t.items())
    return prf(overlap, sum(p.values()), sum(t.values()))


def lcs_length(a, b):
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b, 1):
            keep = row[j]
            row[j] = prev_diag + 1 if x == y else max(row[j], row[j - 1])
            prev_diag = keep
    return row[-1]


def rouge_l(target, pred):
    if not target or not pred:
        return (0.0, 0.0, 0.0)
    lcs = lcs_length(target, pred)
    p, r = lcs / len(pred), lcs / len(target)
    return (p, r, 2 * p * r / (p + r) if p + r > 0 else 0.0)


def score(target, pred, stemmer=None):
    t, p = tokenize(target, stemmer), tokenize(pred, stemmer)
    return {"rouge1": rouge_n(t, p, 1), "rouge2": rouge_n(t, p, 2), "rougeL": rouge_l(t, p)}


WORDS = ("the cat sat on mat dog a is was running runs ran runner runners quickly quick ponies "
         "caresses relational generalization hopeful goodness news skies dying agreed feed "
         "police killed kill gunman said says saying year years 2016 3 14 u s uk bbc "
         "minister ministers government governments people club clubs season").split()
ODD = ["Cat", "THE", "Running", "don't", "co-operate", "U.S.", "3.14", "caf\u00e9", "na\u00efve",
       "Stra\u00dfe", "\u0130stanbul", "\u212aelvin", "\u00fcber", "\u65e5\u672c\u8a9e",
       "emoji\U0001F600", "\u00c9T\u00c9", "x_y", "--", ",", ".", "!", "(", ")", "\"", "'s", "\t"]


def sentence(rng, n):
    out = []
    for _ in range(n):
        out.append(rng.choice(ODD) if rng.random() < 0.15 else rng.choice(WORDS))
    return " ".join(out) if rng.random() < 0.8 else "".join(w + rng.choice([" ", ",", "", "."]) for w in out)


def mutate(rng, words):
    words = list(words)
    for _ in range(rng.randint(0, 4)):
        op = rng.randrange(4)
        if op == 0 and words:
            del words[rng.randrange(len(words))]
        elif op == 1:
            words.insert(rng.randint(0, len(words)), rng.choice(WORDS))
        elif op == 2 and words:
            words[rng.randrange(len(words))] = rng.choice(WORDS + ODD)
        elif op == 3 and len(words) > 1:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
    return words


def random_pairs(rng, n, multiline):
    pairs = []
    for _ in range(n):
        k = rng.choice([0, 1, 2] + list(range(3, 30)))
        target = sentence(rng, k)
        if rng.random() < 0.6:
            pred = " ".join(mutate(rng, target.split(" ")))
        else:
            pred = sentence(rng, rng.randint(0, 30))
        if rng.random() < 0.1:
            pred = pred.upper()
        if multiline and rng.random() < 0.3:
            pred = pred.replace(" ", rng.choice(["\n", "\r\n", " {", "\u00a0"]), 2)
        pairs.append([target, pred])
    return pairs


STEM_SUFFIXES = ("ational tional enci anci izer bli abli alli entli eli ousli ization ation ator alism "
                 "iveness fulness ousness aliti iviti biliti fulli logi icate ative alize iciti ical ful "
                 "ness al ance ence er ic able ible ant ement ment ent ion sion tion ou ism ate iti ous "
                 "ive ize e ll s ss sses ies ied eed ed ing y ly at bl iz").split()


def random_words(rng, n):
    words = set(WORDS)
    while len(words) < n:
        w = "".join(rng.choice("aeiouy" if rng.random() < 0.4 else "bcdfghjklmnpqrstvwxz")
                    for _ in range(rng.randint(1, 7)))
        for _ in range(rng.randint(0, 2)):
            w += rng.choice(STEM_SUFFIXES)
        if rng.random() < 0.05:
            w += str(rng.randint(0, 99))
        words.add(w)
    words.update(["sky", "skies", "dying", "lying", "tying", "news", "innings", "inning", "outings",
                  "outing", "cannings", "canning", "howe", "proceed", "exceed", "succeed", "dies", "ties"])
    return sorted(words)


def gen(out_dir, seed, n):
    rng = random.Random(seed)
    plain = random_pairs(rng, n, multiline=False)
    with open(f"{out_dir}/ref.txt", "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t, _ in plain)
    with open(f"{out_dir}/pred.txt", "w", encoding="utf-8") as f:
        f.writelines(p + "\n" for _, p in plain)
    jsonl = random_pairs(rng, n, multiline=True)
    with open(f"{out_dir}/ref.jsonl", "w", encoding="utf-8") as f:
        for i, (t, _) in enumerate(jsonl):  # references may say "summary" instead of "text"
            f.write(json.dumps({"id": i, ("summary" if i % 2 else "text"): t}) + "\n")
    with open(f"{out_dir}/pred.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"text": p}, ensure_ascii=bool(i % 2)) + "\n" for i, (_, p) in enumerate(jsonl))
    for name, pairs in (("txt", plain), ("jsonl", jsonl)):
        with open(f"{out_dir}/pairs_{name}.json", "w", encoding="utf-8") as f:
            json.dump(pairs, f)
    with open(f"{out_dir}/words.txt", "w") as f:
        f.writelines(w + "\n" for w in random_words(rng, 20000))


def porter():
    from nltk.stem.porter import PorterStemmer  # rouge-score's stemmer, in its default mode
    return PorterStemmer()


def check(pairs_path, per_item_path, summary_path, stem):
    stemmer = porter() if stem else None
    pairs = json.load(open(pairs_path, encoding="utf-8"))
    got = [json.loads(line) for line in open(per_item_path, encoding="utf-8")]
    summary = json.load(open(summary_path))
    bad = 0
    if len(got) != len(pairs):
        print(f"FAIL: {len(got)} per-item lines for {len(pairs)} pairs")
        return 1
    means = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for i, ((target, pred), g) in enumerate(zip(pairs, got)):
        want = score(target, pred, stemmer)
        for m, (p, r, f) in want.items():
            means[m] += f / len(pairs)
            c = g[m]
            # the same operations in the same order on doubles: equal to the bit
            if (c["precision"], c["recall"], c["f1"]) != (p, r, f):
                bad += 1
                if bad <= 10:
                    print(f"FAIL item {i + 1} {m}: mtp {c}, oracle P {p} R {r} F {f}\n"
                          f"  target {target!r}\n  prediction {pred!r}")
    for m, v in means.items():
        if abs(summary[m] - v) > 1e-9:
            bad += 1
            print(f"FAIL mean {m}: mtp {summary[m]}, oracle {v}")
    if summary["items"] != len(pairs):
        bad += 1
        print(f"FAIL items: mtp {summary['items']}, oracle {len(pairs)}")
    print(f"{len(pairs)} pairs{' (stemmed)' if stem else ''}: {bad} differences")
    return 1 if bad else 0


def pairs_from(pred_path, xsum_path, n, out_path):
    preds = [json.loads(line)["text"] for line in open(pred_path, encoding="utf-8")]
    refs = [json.loads(line)["summary"] for line in open(xsum_path, encoding="utf-8") if line.strip()][:n]
    json.dump([[t, p] for t, p in zip(refs, preds)], open(out_path, "w", encoding="utf-8"))
    return 0 if len(preds) == len(refs) == n else 1


def stems(words_path, stems_path):
    stemmer = porter()
    words = open(words_path).read().split("\n")[:-1]
    got = open(stems_path).read().split("\n")[:-1]
    bad = [(w, g, stemmer.stem(w)) for w, g in zip(words, got) if g != stemmer.stem(w)]
    for w, g, e in bad[:10]:
        print(f"FAIL stem({w}): mtp {g}, nltk {e}")
    print(f"{len(words)} words: {len(bad)} differences")
    return 1 if bad or len(words) != len(got) else 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "gen":
        gen(argv[2], int(argv[3]), int(argv[4]))
        return 0
    if len(argv) >= 5 and argv[1] == "check":
        return check(argv[2], argv[3], argv[4], "--stem" in argv[5:])
    if len(argv) == 6 and argv[1] == "pairs":
        return pairs_from(argv[2], argv[3], int(argv[4]), argv[5])
    if len(argv) == 4 and argv[1] == "stems":
        return stems(argv[2], argv[3])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
