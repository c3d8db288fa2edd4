#include <criterion/criterion.h>
Test(capset, placeholder) {}
