/* decision_matrix.c - the seed's decision matrix as one table.
 *
 * Source: ../seed/PROJECT_COMPRESSION_FINDINGS.md, sections "Decision Matrix"
 * (technique x Transformers / SSM / small / large), "Target Hardware", "Model
 * Size", "Step 1: Assess Your Model" (quality buckets) and "Step 2: Choose
 * Technique".  Each row rates one technique for every value of the four facts;
 * a rating's text says where in the seed it comes from.  A technique is
 * recommended when no fact rates it "avoid" and its expected quality loss fits
 * the accepted loss; recommended techniques are ordered by the sum of their
 * ratings (table order breaks ties).
 */
#include "advice/decision_matrix.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    sq_advice_rating rating;
    const char *why; /* the seed's words, or NULL for "not discussed by the seed" */
} cell;

typedef struct {
    const char *technique;
    const char *title;
    const char *squeeze_how;
    cell arch[SQ_ARCH_COUNT];  /* transformer, ssm, other */
    cell size[SQ_SIZE_COUNT];  /* <10M, 10-100M, >100M */
    cell hw[SQ_HW_COUNT];      /* gpu, cpu, edge */
    sq_advice_quality needs;   /* the smallest accepted-loss bucket it fits */
    const char *quality_why;
} technique_row;

#define AVOID(w) {SQ_RATE_AVOID, w}
#define RISKY(w) {SQ_RATE_RISKY, w}
#define GOOD(w) {SQ_RATE_GOOD, w}
#define BEST(w) {SQ_RATE_BEST, w}

static const technique_row matrix[] = {
    {"mixed-precision", "Mixed precision (INT8 embeddings, FP16 core, FP32 for sensitive tensors)",
     "a precision map with int8 for the embeddings, fp16 (or bf16) for the linears and fp32 for norms and SSM "
     "parameters (compress.precision_map or a recipe in configs/recipes/)",
     {GOOD("rated good for Transformers"),
      BEST("the seed's best SSM technique: INT8 embeddings (most of the parameters), FP16 SSM core"),
      GOOD("not rated for other architectures; quantizing weights does not depend on the architecture")},
     {BEST("under 10M parameters the seed advises mixed precision only (pruning is too destructive)"),
      GOOD("10-100M: mixed precision or pruning"), GOOD("rated good for large models")},
     {BEST("GPU: the seed's best technique (2-2.7x expected)"),
      AVOID("CPU: the seed saw the INT8/FP16 tensors converted back to FP32 at run time, so no speed gain"),
      GOOD("edge: INT8 is the seed's best and FP16 its second choice")},
     SQ_QUALITY_3, "the seed expects under 3% degradation"},

    {"fp16", "FP16 or BF16 everywhere", "format fp16 or bf16 for every float tensor",
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD("GPU: half precision runs on tensor cores"),
      AVOID("CPU: the seed lists FP16 among the formats to avoid on CPU (converted back to FP32)"),
      GOOD("edge: the seed's second choice after INT8")},
     SQ_QUALITY_3, "the seed saw no visible degradation from FP16 (Phase 8; samples only, no perplexity)"},

    {"int8", "INT8 weights everywhere (per output channel)", "format int8 for the linears and embeddings",
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD("GPU: part of the seed's mixed-precision recipe"),
      GOOD("CPU: dynamic quantization is the seed's second CPU choice after distillation"),
      BEST("edge: the seed's best technique (with distillation)")},
     SQ_QUALITY_10, "the seed expects under 10% degradation for INT8 on edge and keeps under-3% for mixed precision"},

    {"int4", "4-bit weights (NF4, INT4 blocks or GPTQ)", "formats nf4, int4 or gptq in the precision map",
     {GOOD("rated good for Transformers"), GOOD("rated good for SSMs"),
      GOOD("the seed's choice for architectures that are neither SSM nor Transformer")},
     {RISKY("the seed rates INT4 risky for small models"), GOOD(NULL), GOOD("rated good for large models")},
     {GOOD("GPU: the seed's fallback after mixed precision (4x weight compression)"),
      AVOID("CPU: the seed found INT4 needs GPU kernels to run fast"),
      RISKY("edge: not among the seed's edge choices (INT8, then FP16)")},
     SQ_QUALITY_10, "the seed reports +10-20% perplexity for NF4"},

    {"pruning", "Structured pruning (attention heads, MoE experts)",
     "pruning of attention heads or MoE experts, then evaluated like any variant",
     {BEST("the seed's best technique for Transformers (remove 30-50% of heads or experts)"),
      AVOID("SSM: pruning breaks the recurrent state's dependencies (the seed's Task 2 found 0% prunable)"),
      RISKY("not rated for other architectures")},
     {AVOID("under 10M parameters the seed finds pruning too destructive"), GOOD("10-100M: mixed precision or pruning"),
      GOOD("rated good for large models")},
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     SQ_QUALITY_10, "the seed allows pruning from a 10% quality budget"},

    {"pruning+quantization", "Pruning combined with quantization",
     "prune heads or experts, then quantize the result with a precision map",
     {GOOD("Transformers: prune first, then mixed precision (2.25-6x expected)"),
      AVOID("SSM: pruning breaks the recurrent state"), RISKY(NULL)},
     {AVOID("under 10M parameters the seed finds pruning too destructive"), RISKY(NULL),
      BEST("over 100M parameters the seed advises combined techniques")},
     {GOOD(NULL), RISKY("CPU: the quantized part gives little speed on CPU according to the seed"), GOOD(NULL)},
     SQ_QUALITY_20, "the seed keeps aggressive combinations for a 20% quality budget"},

    {"distillation", "Knowledge distillation (train a smaller student)",
     "outside squeeze: train the student, then run squeeze on its checkpoint",
     {GOOD("rated good for Transformers"), GOOD("rated good for SSMs"), GOOD(NULL)},
     {GOOD("rated good for small models"), GOOD(NULL), BEST("the seed's best technique for large models")},
     {GOOD(NULL), BEST("CPU: the seed's best technique (2-5x fewer parameters)"),
      BEST("edge: distil to 0.5-1M parameters, then INT8")},
     SQ_QUALITY_3, "the seed expects the student to keep the teacher's quality (weeks of training)"},

    {"fp32", "Keep FP32 (no compression)", "the baseline stored in inspect.h5",
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD(NULL), GOOD(NULL), RISKY("large models are what compression is for")},
     {RISKY("GPU: the seed gains 2x or more from mixed precision"),
      BEST("CPU: the seed's recommendation (its FP32 baseline ran 3,308 tok/s)"),
      RISKY("edge: the seed compresses for edge (INT8)")},
     SQ_QUALITY_3, "no quality loss"},
};

#define MATRIX_ROWS (sizeof matrix / sizeof matrix[0])

static const char *const arch_names[SQ_ARCH_COUNT] = {"transformer", "ssm", "other"};
static const char *const size_names[SQ_SIZE_COUNT] = {"<10M", "10-100M", ">100M"};
static const char *const hw_names[SQ_HW_COUNT] = {"gpu", "cpu", "edge"};
static const char *const quality_names[SQ_QUALITY_COUNT] = {"<3%", "<10%", "<20%"};
static const char *const rating_names[] = {"avoid", "risky", "good", "best"};

const char *sq_advice_arch_name(sq_advice_arch arch) { return (unsigned)arch < SQ_ARCH_COUNT ? arch_names[arch] : "?"; }
const char *sq_advice_size_name(sq_advice_size size) { return (unsigned)size < SQ_SIZE_COUNT ? size_names[size] : "?"; }
const char *sq_advice_hardware_name(sq_advice_hardware hw) { return (unsigned)hw < SQ_HW_COUNT ? hw_names[hw] : "?"; }
const char *sq_advice_quality_name(sq_advice_quality q) { return (unsigned)q < SQ_QUALITY_COUNT ? quality_names[q] : "?"; }
const char *sq_advice_rating_name(sq_advice_rating r) { return (unsigned)r <= SQ_RATE_BEST ? rating_names[r] : "?"; }

sq_status sq_advice_hardware_parse(const char *text, sq_advice_hardware *hw)
{
    for (int i = 0; i < SQ_HW_COUNT; i++) {
        if (text && strcmp(text, hw_names[i]) == 0) {
            *hw = (sq_advice_hardware)i;
            return SQ_OK;
        }
    }
    return sq_fail(SQ_ERR_USAGE, "target hardware '%s' is not one of gpu, cpu, edge", text ? text : "");
}

sq_advice_size sq_advice_size_of(int64_t parameters)
{
    if (parameters < 10000000)
        return SQ_SIZE_SMALL;
    return parameters <= 100000000 ? SQ_SIZE_MEDIUM : SQ_SIZE_LARGE;
}

sq_advice_quality sq_advice_quality_of(double quality_pct)
{
    if (quality_pct <= 3.0)
        return SQ_QUALITY_3;
    return quality_pct <= 10.0 ? SQ_QUALITY_10 : SQ_QUALITY_20;
}

/* Appends "fact: rating (why)" to the reason text. */
static void add_reason(char *text, const char *fact, cell c)
{
    size_t used = strlen(text);
    snprintf(text + used, SQ_ADVICE_TEXT - used, "%s%s: %s%s%s%s", used ? "; " : "", fact,
             sq_advice_rating_name(c.rating), c.why ? " (" : "", c.why ? c.why : "", c.why ? ")" : "");
}

static void add_caveat(sq_advice *advice, const char *caveat)
{
    if (advice->caveat_count < SQ_ADVICE_MAX_CAVEATS)
        advice->caveats[advice->caveat_count++] = caveat;
}

sq_status sq_advice_recommend(const sq_advice_input *input, sq_advice *advice)
{
    char fact[64];
    size_t used;

    if ((unsigned)input->arch >= SQ_ARCH_COUNT || (unsigned)input->hardware >= SQ_HW_COUNT)
        return sq_fail(SQ_ERR_RUN, "decision matrix: architecture or hardware out of range");
    memset(advice, 0, sizeof *advice);
    advice->input = *input;
    advice->size = sq_advice_size_of(input->parameters);
    advice->quality = sq_advice_quality_of(input->quality_pct);

    for (size_t r = 0; r < MATRIX_ROWS; r++) {
        const technique_row *row = &matrix[r];
        const cell facts[3] = {row->arch[input->arch], row->size[advice->size], row->hw[input->hardware]};
        int fits = advice->quality >= row->needs;
        sq_advice_item item;
        memset(&item, 0, sizeof item);
        item.technique = row->technique;
        item.title = row->title;
        item.squeeze_how = row->squeeze_how;
        item.worst = SQ_RATE_BEST;
        for (int f = 0; f < 3; f++) {
            item.score += (int)facts[f].rating;
            if (facts[f].rating < item.worst)
                item.worst = facts[f].rating;
        }
        snprintf(fact, sizeof fact, "architecture %s", arch_names[input->arch]);
        add_reason(item.reason, fact, facts[0]);
        snprintf(fact, sizeof fact, "size %s", size_names[advice->size]);
        add_reason(item.reason, fact, facts[1]);
        snprintf(fact, sizeof fact, "hardware %s", hw_names[input->hardware]);
        add_reason(item.reason, fact, facts[2]);
        used = strlen(item.reason);
        snprintf(item.reason + used, sizeof item.reason - used, "; quality %s (%.3g%% accepted): %s (%s)",
                 quality_names[advice->quality], input->quality_pct, fits ? "fits" : "does not fit",
                 row->quality_why);

        if (item.worst == SQ_RATE_AVOID || !fits) {
            if (advice->avoided_count < SQ_ADVICE_MAX_ITEMS)
                advice->avoided[advice->avoided_count++] = item;
            continue;
        }
        /* insertion by score, stable: table order breaks ties */
        int at = advice->recommended_count;
        while (at > 0 && advice->recommended[at - 1].score < item.score) {
            if (at < SQ_ADVICE_MAX_ITEMS)
                advice->recommended[at] = advice->recommended[at - 1];
            at--;
        }
        if (at < SQ_ADVICE_MAX_ITEMS) {
            advice->recommended[at] = item;
            if (advice->recommended_count < SQ_ADVICE_MAX_ITEMS)
                advice->recommended_count++;
        }
    }

    used = (size_t)snprintf(advice->summary, sizeof advice->summary,
                            "For a model of architecture %s with %lld parameters (%s) on %s accepting a %.3g%% quality loss (%s), the "
                            "seed's decision matrix suggests ",
                            arch_names[input->arch], (long long)input->parameters, size_names[advice->size],
                            hw_names[input->hardware], input->quality_pct, quality_names[advice->quality]);
    for (int i = 0; i < advice->recommended_count && used < sizeof advice->summary; i++)
        used += (size_t)snprintf(advice->summary + used, sizeof advice->summary - used, "%s%s",
                                 i == 0 ? "" : i == advice->recommended_count - 1 ? ", then " : ", ",
                                 advice->recommended[i].technique);
    if (advice->recommended_count == 0 && used < sizeof advice->summary)
        used += (size_t)snprintf(advice->summary + used, sizeof advice->summary - used, "nothing");
    if (used < sizeof advice->summary)
        snprintf(advice->summary + used, sizeof advice->summary - used,
                 ". These are expectations from another project: squeeze's evaluate stage measures what each "
                 "variant really gives.");

    /* Where the seed's own numbers were wrong, and what squeeze measures instead
     * (../docs/itera-lite.md sections 0, 3 and 5). */
    add_caveat(advice, "The seed's 2.27x for mixed precision is bookkeeping: its 'INT8' tensors were stored as FP16 and "
                       "the MoE weights were silently dropped (real tensor bytes: about 1.70x). squeeze measures the "
                       "model file with stat() (evaluate: ratio_file_bytes) and records every tensor's format.");
    add_caveat(advice, "The seed's INT4 '4.47x' compares two different models; squeeze compares every variant with the "
                       "baseline of the same checkpoint (inspect.h5).");
    add_caveat(advice, "The seed's INT4 '+19% perplexity' was measured on hashed random tokens with targets equal to "
                       "inputs; squeeze's evaluate runs the model on real text and reports perplexity change and KL "
                       "divergence to the baseline.");
    add_caveat(advice, "The quality figures in this matrix are the seed's expectations, not measurements of this model; "
                       "evaluate's ppl_change_pct is what decides.");
    if (input->hardware != SQ_HW_GPU)
        add_caveat(advice, "The seed's verdict that INT4/INT8/FP16 need a GPU is about PyTorch's run-time speed; the "
                           "size reduction is real on any hardware. evaluate measures tokens/second where it runs: "
                           "measure on the target hardware.");
    if (input->arch == SQ_ARCH_SSM)
        add_caveat(advice, "The seed's 'no MoE in the checkpoint' (its reason pruning failed) came from a key-renaming "
                           "bug; inspect accounts for every tensor. Itera-Lite checkpoints of the seed's Phases 3-4 "
                           "were trained to predict token t+2: set evaluate.offset accordingly.");
    if (advice->size == SQ_SIZE_SMALL)
        add_caveat(advice, "In a model this small the embeddings hold a large share of the parameters, so their format "
                           "decides most of the size; check the per-group counts above.");
    for (int i = 0; i < advice->recommended_count; i++)
        if (strcmp(advice->recommended[i].technique, "distillation") == 0)
            add_caveat(advice, "Distillation is outside squeeze: train the smaller student, then give squeeze its "
                               "checkpoint.");
    return SQ_OK;
}
