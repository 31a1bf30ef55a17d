/* placeholder */
#include "ltpp.h"
void tpp_lconfig_register(lua_State *L) { (void)L; }
