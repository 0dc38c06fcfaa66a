// llama_timing.mjs - how fast llama.cpp (node-llama-cpp's prebuilt CPU libraries) evaluates token
// windows of a GGUF, for scripts/bench_llama_cpp.sh: the same windows and thread count as
// squeeze-evaluate's forward pass.
//
//   node llama_timing.mjs MODEL.gguf TOKENS.bin WINDOW WINDOWS THREADS > timing.json
//
// TOKENS.bin: little-endian uint16 token ids.  Each window [i*W, (i+1)*W) is one batch from an empty
// cache.  Two passes over the windows:
//  - untimed: every position's logits, the mean NLL of the next token (to check that llama.cpp
//    computes what squeeze does);
//  - timed: the windows evaluated with the logits of their last position only
//    (evaluateWithoutGeneratingNewTokens), so that no logits are handed to JavaScript; llama.cpp
//    then runs its output head for one position of the window where squeeze runs it for all (on
//    the benchmark's 512-token vocabulary about 1 % of the forward's multiply-adds).  Printed: the
//    process's CPU seconds and the wall seconds of those evaluations.
import fs from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const [modelPath, tokensPath, windowArg, windowsArg, threadsArg] = process.argv.slice(2);
const W = Number(windowArg), nWindows = Number(windowsArg), threads = Number(threadsArg);
const raw = fs.readFileSync(tokensPath);
const ids = new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
if (ids.length < W * nWindows) throw new Error(`${tokensPath}: ${ids.length} tokens, fewer than ${nWindows} x ${W}`);

const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
                               progressLogs: false, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath, gpuLayers: 0, useMmap: false });
const context = await model.createContext({ contextSize: W, batchSize: W, sequences: 1, threads,
                                            flashAttention: false,
                                            experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" });
const sequence = context.getSequence();
const windowTokens = (w) => Array.from(ids.subarray(w * W, (w + 1) * W));

let total = 0, count = 0;
for (let w = 0; w < nWindows; w++) {
  const tokens = windowTokens(w);
  await sequence.clearHistory();
  const out = await sequence.controlledEvaluate(tokens.map((t) => [t, { generateNext: { logits: true } }]));
  for (let i = 0; i < W - 1; i++) {
    const logits = out[i].next.logits;
    let max = -Infinity, s = 0;
    for (const v of logits.values()) if (v > max) max = v;
    for (const v of logits.values()) s += Math.exp(v - max);
    total += max + Math.log(s) - logits.get(tokens[i + 1]);
    count++;
  }
}

let wall = 0, cpu = 0;
for (let w = 0; w < nWindows; w++) {
  const tokens = windowTokens(w);
  await sequence.clearHistory();
  const cpu0 = process.cpuUsage(), t0 = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(tokens);
  wall += (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu0);
  cpu += (used.user + used.system) / 1e6;
}
sequence.dispose();
console.log(JSON.stringify({ model: modelPath, window_length: W, windows: nWindows, threads, positions: W * nWindows,
                             wall_seconds: wall, cpu_seconds: cpu, mean_nll: total / count, scored_tokens: count,
                             runtime: "llama.cpp via node-llama-cpp 3.22.1 (@node-llama-cpp/linux-x64 prebuilt CPU)" }));
await context.dispose();
await model.dispose();
await llama.dispose();
