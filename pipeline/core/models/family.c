/* family.c - the registry of model families.
 *
 * Adding a family: its files in models/ and one line in each list below
 * (docs/architecture.md, "Adding a model family").  Detection tries the rows
 * in order, so a family whose keys are a superset of another's comes first.
 */
#include "models/family.h"

#include <stdio.h>
#include <string.h>

extern const sq_family sq_family_itera;             /* models/itera.c */
extern const sq_family sq_family_itera_transformer; /* models/itera_transformer.c */
extern const sq_family sq_family_llama;             /* models/llama.c */
extern const sq_family sq_family_mamba;             /* models/mamba.c */

static const sq_family *const families[] = {
    &sq_family_itera,
    &sq_family_itera_transformer,
    &sq_family_llama,
    &sq_family_mamba,
    NULL,
};

const sq_family *const *sq_family_all(void) { return families; }

const sq_family *sq_family_by_name(const char *name)
{
    for (int i = 0; families[i]; i++)
        if (strcmp(families[i]->name, name) == 0)
            return families[i];
    return NULL;
}

const sq_family *sq_family_detect(const sq_tensor_set *set)
{
    for (int i = 0; families[i]; i++)
        if (families[i]->recognise(set))
            return families[i];
    return NULL;
}

void sq_family_names(char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; families[i] && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", families[i]->name);
}

sq_param_group sq_family_group_of(const sq_family *family, const char *tensor_name)
{
    return family && family->tensors ? sq_param_group_in(family->tensors, tensor_name) : SQ_GROUP_NONE;
}

bool sq_family_keep_full_precision(const sq_family *family, const char *tensor_name, const char **reason)
{
    return family && family->tensors && sq_param_keep_in(family->tensors, tensor_name, reason);
}

sq_status sq_family_require_final(const sq_family *family, const sq_tensor_set *set, const sq_model_config *cfg)
{
    const sq_family_ends *ends = &family->ends;
    const int64_t d = cfg->hidden_size;
    sq_status st = SQ_OK;
    SQ_TRY(sq_param_require_shape(set, ends->norm_weight, 1, d, 0, 0));
    if (ends->norm_bias)
        SQ_TRY(sq_param_require_shape(set, ends->norm_bias, 1, d, 0, 0));
    if (sq_tensor_set_find(set, ends->head))
        SQ_TRY(sq_param_require_shape(set, ends->head, 2, cfg->vocab_size, d, 0));
cleanup:
    return st;
}

void sq_ssm_layout_add(sq_ssm_layout *out, const char *tensor, int axis, int off0, int off1)
{
    sq_ssm_slice *s;
    if (out->count >= SQ_SSM_MAX_SLICES)
        return;
    s = &out->slices[out->count++];
    snprintf(s->tensor, sizeof s->tensor, "%s", tensor);
    s->axis = axis;
    s->offsets[0] = off0;
    s->offsets[1] = off1;
    s->offset_count = off1 >= 0 ? 2 : 1;
}
