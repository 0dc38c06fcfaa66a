/* decision_matrix.c - rules of thumb for which compression to try first, as one table.
 *
 * Each row rates one technique for every value of four facts of the model:
 * architecture (Transformer / SSM / other), size (<10M, 10-100M, >100M
 * parameters), target hardware (GPU, CPU, edge) and accepted quality loss
 * (<3%, <10%, <20%).  The ratings are the usual expectations of model
 * compression practice (bitsandbytes and llama.cpp for 4-bit and 8-bit
 * weights, PyTorch dynamic quantization for CPU, structured pruning of heads
 * and experts), written down before anything is measured; squeeze's evaluate
 * stage measures what each variant really gives, and the report states where
 * the measurement contradicts a rating.  A technique is suggested when no fact
 * rates it "avoid" and its expected quality loss fits the accepted loss;
 * suggestions are ordered by the sum of their ratings (table order breaks ties).
 */
#include "advice/decision_matrix.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    sq_advice_rating rating;
    const char *why; /* why, or NULL when the fact makes no difference */
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
     {GOOD("weights quantize the same way in any Transformer"),
      BEST("an SSM's embeddings hold most of its parameters and tolerate INT8, while the recurrence (A, D, dt) is "
           "sensitive and stays in higher precision"),
      GOOD("quantizing weights does not depend on the architecture")},
     {BEST("a small model has little redundancy to prune, so precision is where the bytes are"),
      GOOD("mixed precision or pruning"), GOOD("works at any size")},
     {BEST("GPU runtimes run FP16 and INT8 weights natively"),
      AVOID("CPU runtimes often convert INT8/FP16 weights back to FP32 when they run, so there is no speed gain"),
      GOOD("edge runtimes favour INT8, then FP16")},
     SQ_QUALITY_3, "expected under 3% perplexity change"},

    {"fp16", "FP16 or BF16 everywhere", "format fp16 or bf16 for every float tensor",
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD("GPU: half precision runs on tensor cores"),
      AVOID("CPU: most CPUs have no fast half-precision arithmetic; the runtime converts back to FP32"),
      GOOD("edge: second choice after INT8")},
     SQ_QUALITY_3, "half precision keeps 11 (FP16) or 8 (BF16) mantissa bits: expected well under 1%"},

    {"int8", "INT8 weights everywhere (per output channel)", "format int8 for the linears and embeddings",
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD("GPU: INT8 weight kernels are common"),
      GOOD("CPU: PyTorch dynamic quantization runs INT8 linears on CPU"),
      BEST("edge: INT8 is what edge accelerators run")},
     SQ_QUALITY_10, "per-channel INT8 is commonly budgeted at up to 10% for small models, whose outlier channels "
                    "are few but costly"},

    {"int4", "4-bit weights (NF4, INT4 blocks or GPTQ)", "formats nf4, int4 or gptq in the precision map",
     {GOOD("4-bit weights are routine for Transformers (bitsandbytes NF4, llama.cpp Q4, GPTQ)"),
      GOOD("4-bit blocks apply to an SSM's linears like any other"),
      GOOD("4-bit weights do not depend on the architecture")},
     {RISKY("small models lose more per bit: every weight matters more"), GOOD(NULL), GOOD("the common choice for "
      "large models")},
     {GOOD("GPU: 4x smaller weights with dequantizing kernels"),
      AVOID("CPU: 4-bit needs dedicated kernels (llama.cpp has them, PyTorch does not) to run fast"),
      RISKY("edge: few edge runtimes run 4-bit weights")},
     SQ_QUALITY_10, "4-bit weights are commonly budgeted at 10% or more of perplexity for small models"},

    {"pruning", "Structured pruning (attention heads, MoE experts)",
     "pruning of attention heads or MoE experts, then evaluated like any variant",
     {BEST("Transformers commonly lose 30-50% of their heads with little loss"),
      AVOID("an SSM's recurrent state ties its channels together: removing them breaks the recurrence"),
      RISKY("no common experience for other architectures")},
     {AVOID("a small model has little redundancy: pruning removes what it needs"), GOOD("mixed precision or pruning"),
      GOOD("large models have the most redundancy")},
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     SQ_QUALITY_10, "pruning is budgeted from a 10% quality loss"},

    {"pruning+quantization", "Pruning combined with quantization",
     "prune heads or experts, then quantize the result with a precision map",
     {GOOD("Transformers: prune first, then quantize"),
      AVOID("an SSM's recurrent state ties its channels together: removing them breaks the recurrence"), RISKY(NULL)},
     {AVOID("a small model has little redundancy: pruning removes what it needs"), RISKY(NULL),
      BEST("large models have room for both")},
     {GOOD(NULL), RISKY("CPU: the quantized part brings little speed without dedicated kernels"), GOOD(NULL)},
     SQ_QUALITY_20, "combined techniques are budgeted from a 20% quality loss"},

    {"distillation", "Knowledge distillation (train a smaller student)",
     "outside squeeze: train the student, then run squeeze on its checkpoint",
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD(NULL), GOOD(NULL), BEST("the largest gains are on large teachers")},
     {GOOD(NULL), BEST("CPU: fewer parameters is the one speed-up every runtime gets"),
      BEST("edge: distil to what fits, then INT8")},
     SQ_QUALITY_3, "a student trained long enough keeps most of the teacher's quality (days to weeks of training)"},

    {"fp32", "Keep FP32 (no compression)", "the checkpoint as it is",
     {GOOD(NULL), GOOD(NULL), GOOD(NULL)},
     {GOOD(NULL), GOOD(NULL), RISKY("large models are what compression is for")},
     {RISKY("GPU: half precision halves the size at no measurable cost"),
      BEST("CPU: FP32 is what CPU runtimes run fastest without dedicated kernels"),
      RISKY("edge: edge devices want INT8")},
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

sq_advice_arch sq_advice_arch_of(const int64_t group_parameters[SQ_GROUP_COUNT])
{
    if (group_parameters[SQ_GROUP_SSM] > 0)
        return SQ_ARCH_SSM;
    if (group_parameters[SQ_GROUP_ATTENTION] > 0)
        return SQ_ARCH_TRANSFORMER;
    return SQ_ARCH_OTHER;
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
                            "rules of thumb suggest ",
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
                 ". These are expectations, not measurements: squeeze's evaluate stage measures what each variant "
                 "really gives, and the measurement decides.");

    add_caveat(advice, "The quality figures of these rules are expectations for models in general, not measurements "
                       "of this model; evaluate's perplexity change on your text is what decides.");
    add_caveat(advice, "A compression ratio computed from bits per weight is not the file size: squeeze measures the "
                       "model file with stat() and records every tensor's format, so formats that keep some tensors "
                       "in higher precision or add scales show their true cost.");
    if (input->hardware != SQ_HW_GPU)
        add_caveat(advice, "The hardware ratings are about run-time speed; the size reduction is real on any hardware. "
                           "Measure speed on the target hardware and runtime.");
    if (input->arch == SQ_ARCH_SSM)
        add_caveat(advice, "Some SSM checkpoints were trained to predict token t+2 instead of t+1; evaluate warns when "
                           "the model scores better one token further on: set evaluate.offset accordingly.");
    if (advice->size == SQ_SIZE_SMALL)
        add_caveat(advice, "In a model this small the embeddings hold a large share of the parameters, so their format "
                           "decides most of the size; check the per-group counts.");
    for (int i = 0; i < advice->recommended_count; i++)
        if (strcmp(advice->recommended[i].technique, "distillation") == 0)
            add_caveat(advice, "Distillation is outside squeeze: train the smaller student, then give squeeze its "
                               "checkpoint.");
    return SQ_OK;
}
