/* nf4_codes.h - the NF4 code and the 8-bit dynamic map of bitsandbytes,
 * exposed for the tests that check them against the reference definition. */
#ifndef SQ_QUANT_NF4_CODES_H
#define SQ_QUANT_NF4_CODES_H

#include <stdint.h>

/* functional.py::get_4bit_type("nf4"), index = 4-bit code. */
extern const float sq_nf4_code[16];

/* kernels.cu::dQuantizeNF4: the code nearest to x in [-1, 1]. */
uint8_t sq_nf4_encode(float x);

/* functional.py::create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8), ascending. */
void sq_nf4_dynamic_map(float map[256]);

#endif
