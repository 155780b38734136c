/* version.h: pacto's version, defined here and nowhere else in the code.
 * Why one place: `pacto --version`, `pactod --version` and `pacto status`
 * print it; the man pages (.TH) and debian/changelog carry it as text, and
 * tests/integration/test_ecosystem.sh checks that they all say the same. */
#ifndef PACTO_VERSION_H
#define PACTO_VERSION_H

#define PACTO_VERSION "0.1.0"

#endif
