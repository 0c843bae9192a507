/* Every Check suite of the unit tests; check_main.c runs them all. */
#ifndef AUD_TEST_SUITES_H
#define AUD_TEST_SUITES_H

#include <check.h>

Suite *suite_b64(void);
Suite *suite_json(void);
Suite *suite_keys(void);
Suite *suite_keyload(void);
Suite *suite_vectors(void);
Suite *suite_attacks(void);
Suite *suite_claims(void);
Suite *suite_audit(void);
Suite *suite_hints(void);
Suite *suite_sources(void);
Suite *suite_remote(void);
Suite *suite_text(void);
Suite *suite_bearer(void);
Suite *suite_time(void);
Suite *suite_claim_match(void);
Suite *suite_issuers(void);
Suite *suite_wycheproof(void);

#endif
