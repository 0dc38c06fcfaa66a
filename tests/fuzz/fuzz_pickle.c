/* fuzz_pickle.c - the restricted unpickler (checkpoint/pickle.c) on raw bytes.
 *
 * Seeds: the data.pkl of every PyTorch fixture (scripts/fuzz.sh extracts them).
 * Besides not crashing, checks what pickle.h promises: a result only on success,
 * a bounded repr, and dict lookups that never fail on hostile keys.
 */
#include "checkpoint/pickle.h"
#include "fuzz_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sq_pickle *pickle = NULL;
    const sq_pickle_value *root = NULL;
    sq_status st;
    fuzz_quiet();
    st = sq_pickle_load(data, size, "fuzz.pkl", &pickle, &root);
    if (st == SQ_OK) {
        char *repr;
        char name[1100];
        if (pickle == NULL || root == NULL)
            abort();
        repr = sq_pickle_repr(root);
        if (repr != NULL && strlen(repr) > 8192 + 3)
            abort(); /* PK_REPR_MAX_CHARS plus "..." */
        free(repr);
        (void)sq_pickle_dict_get(root, "state_dict");
        (void)sq_pickle_callable_name(root, name, sizeof name);
    } else if (pickle != NULL || root != NULL) {
        abort();
    }
    fuzz_check_status(st);
    sq_pickle_free(pickle);
    return 0;
}
