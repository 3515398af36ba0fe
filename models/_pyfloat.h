/* CPython's float arithmetic restated for the C extensions that must give the reference's
 * numbers bit for bit (models/_columns.c, models/_state.c): one copy, so they cannot drift. */
#ifndef LEADSCORE_PYFLOAT_H
#define LEADSCORE_PYFLOAT_H
#include <math.h>

/* CPython's float floor division (floatobject.c float_floor_div), for ``t // DAY``. */
static inline double py_floordiv(double vx, double wx) {
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod) {
        if ((wx < 0) != (mod < 0)) div -= 1.0;
    }
    double floordiv;
    if (div) {
        floordiv = floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
        floordiv = copysign(0.0, vx / wx);
    }
    return floordiv;
}

#endif
