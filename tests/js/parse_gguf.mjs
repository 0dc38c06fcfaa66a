// parse_gguf.mjs - @huggingface/gguf's reading of a GGUF file, printed as JSON:
// node parse_gguf.mjs FILE.gguf -> {"metadata": {...}, "tensors": [{name, shape, dtype, offset}]}
// (token lists are summarised by their length).
import { gguf } from "@huggingface/gguf";

const path = process.argv[2];
const { metadata, tensorInfos } = await gguf(path, { allowLocalFile: true });
const plain = (v) => (typeof v === "bigint" ? Number(v) : Array.isArray(v) ? (v.length > 16 ? { length: v.length, first: v.slice(0, 4).map(plain) } : v.map(plain)) : v);
const meta = {};
for (const [k, v] of Object.entries(metadata)) meta[k] = plain(v);
const tensors = tensorInfos.map((t) => ({ name: t.name, shape: t.shape.map(Number), dtype: t.dtype, offset: Number(t.offset) }));
console.log(JSON.stringify({ metadata: meta, tensors }));
