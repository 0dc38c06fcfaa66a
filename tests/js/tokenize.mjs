// tokenize.mjs - llama.cpp's tokenization of a text with a GGUF's tokenizer, as little-endian
// uint16 ids (the nanoGPT .bin that squeeze's evaluate reads):
//   node tokenize.mjs MODEL.gguf TEXT_FILE MAX_CHARS OUT.bin
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, textPath, maxChars, outPath] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
                               progressLogs: false, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const text = fs.readFileSync(textPath, "utf8").slice(0, Number(maxChars));
const tokens = model.tokenize(text, false);
fs.writeFileSync(outPath, Buffer.from(Uint16Array.from(tokens).buffer));
console.log(JSON.stringify({ chars: text.length, tokens: tokens.length }));
await model.dispose();
await llama.dispose();
