// hf_encode.mjs: the ids Hugging Face's tokenizers.js (npm package
// @huggingface/tokenizers) gives a text file with a tokenizer.json, as a JSON
// array on one line: the check that a tokenizer.json mtp writes is read by
// Hugging Face's library as mtp reads it.  node tests/hf_encode.mjs TOKENIZER_JSON TEXT_FILE
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";

const [tokPath, textPath] = process.argv.slice(2);
if (!textPath) {
    console.error("usage: node tests/hf_encode.mjs TOKENIZER_JSON TEXT_FILE");
    process.exit(2);
}
const tok = new Tokenizer(JSON.parse(fs.readFileSync(tokPath, "utf8")), {});
const ids = tok.encode(fs.readFileSync(textPath, "utf8"), { add_special_tokens: false }).ids;
console.log(JSON.stringify(ids).replace(/,/g, ", "));
