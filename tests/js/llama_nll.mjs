// llama_nll.mjs - llama.cpp's negative log-likelihood of token windows, through node-llama-cpp's
// prebuilt CPU libraries (@node-llama-cpp/linux-x64; never downloads or builds).
//
//   node llama_nll.mjs MODEL.gguf TOKENS.bin WINDOW [MAX_WINDOWS] > nll.json
//
// TOKENS.bin: little-endian uint16 token ids (nanoGPT .bin, as squeeze's evaluate reads it).
// Windows are [i*W, (i+1)*W), non-overlapping (stride = W); in each, the logits after token t
// (t = 0..W-2) score token t+1, exactly as squeeze's evaluate scores `scoring: all, offset: 1`.
// The context holds W + 1 tokens, the KV cache is F32 (llama.cpp's default is F16), one sequence
// is evaluated per window from an empty cache. NLL = logsumexp(logits) - logit[target], in
// double precision from llama.cpp's float logits.
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, tokensPath, windowArg, maxArg] = process.argv.slice(2);
const W = Number(windowArg);
const raw = fs.readFileSync(tokensPath);
const ids = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
let nWindows = Math.floor(ids.length / W);
if (maxArg) nWindows = Math.min(nWindows, Number(maxArg));

const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
                               progressLogs: false, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: false });
const context = await model.createContext({ contextSize: W + 1, batchSize: W + 1, sequences: 1, threads: 1,
                                            flashAttention: false,
                                            experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
const windows = [];
let total = 0, count = 0;
const sequence = context.getSequence();
for (let w = 0; w < nWindows; w++) {
  const tokens = Array.from(ids.subarray(w * W, (w + 1) * W));
  await sequence.clearHistory();
  const input = tokens.map((t, i) => (i < W - 1 ? [t, { generateNext: { logits: true } }] : t));
  const out = await sequence.controlledEvaluate(input);
  let sum = 0;
  for (let i = 0; i < W - 1; i++) {
    const logits = out[i].next.logits;
    let max = -Infinity;
    for (const v of logits.values()) if (v > max) max = v;
    let s = 0;
    for (const v of logits.values()) s += Math.exp(v - max);
    const target = logits.get(tokens[i + 1]);
    if (target === undefined || !Number.isFinite(target)) throw new Error(`window ${w}: no logit for token ${tokens[i + 1]}`);
    sum += max + Math.log(s) - target;
  }
  windows.push({ index: w, nll_sum: sum, tokens: W - 1 });
  total += sum; count += W - 1;
}
sequence.dispose();
console.log(JSON.stringify({ model: modelPath, window_length: W, windows: nWindows, scored_tokens: count,
                             mean_nll: total / count,
                             per_window: windows,
                             runtime: "llama.cpp via node-llama-cpp 3.22.1 (@node-llama-cpp/linux-x64 prebuilt CPU)" }));
await context.dispose();
await model.dispose();
await llama.dispose();
