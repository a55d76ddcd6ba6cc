/* lookup_dep: a dependency of lookup_module only; its RTLD_NEXT finds this, a lookup from elsewhere does not */
int lookup_dep_value(void) { return 42; }
