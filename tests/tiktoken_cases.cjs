// tiktoken_cases.cjs: random texts and the ids OpenAI's tiktoken (npm package
// `tiktoken`, "gpt2" encoding) gives them, as the oracle of
// test_tiktoken_diff.sh.  node tests/tiktoken_cases.cjs COUNT SEED OUT_TEXTS OUT_IDS
// Writes one JSON string per line to OUT_TEXTS and the matching JSON array of
// ids per line to OUT_IDS. Texts mix what GPT-2's pre-tokenizer treats
// specially: contractions, every Unicode White_Space character (and U+180E,
// which is not one), letters and digits of many scripts (Nd, Nl, No),
// combining marks, symbols, emoji, and random code points (planes 0-2, mostly 0).
const fs = require("fs");
const { get_encoding } = require("tiktoken");

const [count, seed, outTexts, outIds] = [parseInt(process.argv[2], 10), parseInt(process.argv[3], 10), process.argv[4], process.argv[5]];
if (!outIds) {
    console.error("usage: node tests/tiktoken_cases.cjs COUNT SEED OUT_TEXTS OUT_IDS");
    process.exit(2);
}
// xorshift32: deterministic texts from the seed.
let state = (seed >>> 0) || 1;
const rand = (n) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
};
const pick = (xs) => xs[rand(xs.length)];
const pieces = [
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'", "''", "don't", "I'M", "they've",
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\u000b", "\f", "\u0085", "\u00a0", "\u1680", "\u2000", "\u2005",
    "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u180e", "\u200b", "\ufeff",
    "a", "Z", "word", " word", "héllo", "Straße", "ǅ", "ʰ", "ª", "Ωμέγα", "Привет", "中文", "日本語", "한국어",
    "עברית", "العربية", "हिन्दी", "ไทย", "ᚠᚢ", "𐌰𐌱", "𝔘𝔫𝔦", "\u0301", "e\u0301", "\u0903", "\u20dd",
    "0", "42", "3.14", "٣٤", "०१", "１２", "²", "½", "Ⅻ", "〇", "𝟘𝟙", "𐒠",
    ".", ",", "!?", "...", "--", "()", "{}", "[]", "#", "@", "$", "%", "^", "&", "*", "_", "-", "+=", "<|endoftext|>",
    "😀", "👍🏽", "🇫🇷", "©", "™", "€", "→", "∑", "♥", "\u0001", "\u007f", "\ud7ff", "\ue000", "\ufffd",
];
function randomCodePoint() {
    for (;;) {
        const plane = rand(8) < 6 ? 0 : 1 + rand(2);
        const cp = plane * 0x10000 + rand(0x10000);
        // Surrogates are not characters; NUL cannot pass through the C side's JSON strings.
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp === 0) continue;
        return String.fromCodePoint(cp);
    }
}
const enc = get_encoding("gpt2");
const texts = [], ids = [];
for (let i = 0; i < count; i++) {
    let s = "";
    const n = 1 + rand(24);
    for (let k = 0; k < n; k++) s += rand(10) === 0 ? randomCodePoint() : pick(pieces);
    texts.push(JSON.stringify(s));
    ids.push(JSON.stringify(Array.from(enc.encode_ordinary(s))));
}
enc.free();
fs.writeFileSync(outTexts, texts.join("\n") + "\n");
fs.writeFileSync(outIds, ids.map((x) => x.replace(/,/g, ", ")).join("\n") + "\n");
