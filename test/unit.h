/* unit.h: cmocka and the standard headers it needs before it, in the order it needs them. */
#ifndef UVCHAT_TEST_UNIT_H
#define UVCHAT_TEST_UNIT_H
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#endif
