#include <criterion/criterion.h>
Test(csearch, placeholder) {}
