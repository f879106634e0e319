// tiktoken_bench.cjs: encoding throughput of OpenAI's tiktoken (npm package
// `tiktoken`, WebAssembly build of the Rust library, `gpt2` encoding) on a
// list of files, for side-by-side comparison with `mtp tokenizer bench`.
//   node bench/tiktoken_bench.cjs FILE_LIST [REPEAT]
// FILE_LIST holds one path per line (valid UTF-8 files: JavaScript strings
// cannot hold other bytes). Prints MB/s (median of REPEAT runs, default 5)
// and the token count, on one thread (the JavaScript main thread).
const fs = require("fs");
const { get_encoding } = require("tiktoken");

const list = process.argv[2];
const repeat = parseInt(process.argv[3] || "5", 10);
if (!list) {
    console.error("usage: node bench/tiktoken_bench.cjs FILE_LIST [REPEAT]");
    process.exit(2);
}
const paths = fs.readFileSync(list, "utf8").split("\n").filter((p) => p.length > 0);
const decoder = new TextDecoder("utf-8", { fatal: true });
const texts = [];
let bytes = 0;
for (const p of paths) {
    const raw = fs.readFileSync(p);
    try {
        texts.push(decoder.decode(raw));
    } catch (e) {
        console.error(`tiktoken_bench: ${p} is not valid UTF-8`);
        process.exit(1);
    }
    bytes += raw.length;
}
const enc = get_encoding("gpt2");
const secs = [];
let tokens = 0;
for (let r = 0; r < repeat; r++) {
    tokens = 0;
    const t0 = process.hrtime.bigint();
    for (const t of texts) tokens += enc.encode_ordinary(t).length;
    secs.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
enc.free();
secs.sort((a, b) => a - b);
const med = secs[Math.floor(repeat / 2)];
console.log(
    `tiktoken gpt2: ${texts.length} files, ${(bytes / 1e6).toFixed(2)} MB, ${tokens} tokens, 1 thread: ` +
        `median ${med.toFixed(3)} s, ${(bytes / 1e6 / med).toFixed(2)} MB/s`
);
