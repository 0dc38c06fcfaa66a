/* family.c - the registry of model families and the parameter group names. */
#include "models/family.h"

#include <string.h>

static const sq_family *const families[] = {&sq_family_itera, &sq_family_itera_transformer,
                                             &sq_family_llama, &sq_family_mamba, NULL};

static const char *const group_names[SQ_GROUP_COUNT] = {
    [SQ_GROUP_EMBEDDING] = "embedding", [SQ_GROUP_POSITION] = "position",
    [SQ_GROUP_SSM] = "ssm",             [SQ_GROUP_MOE_ROUTER] = "moe-router",
    [SQ_GROUP_MOE_EXPERT] = "moe-expert", [SQ_GROUP_FFN] = "ffn",
    [SQ_GROUP_ATTENTION] = "attention", [SQ_GROUP_NORM] = "norm",
    [SQ_GROUP_HEAD] = "head",           [SQ_GROUP_BUFFER] = "buffer",
};

const char *sq_group_name(sq_param_group group)
{
    return (group >= 0 && group < SQ_GROUP_COUNT) ? group_names[group] : "none";
}

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
    /* Most specific first: the transformer's keys (blocks.*) never match itera's. */
    for (int i = 0; families[i]; i++)
        if (families[i]->recognise(set))
            return families[i];
    return NULL;
}
