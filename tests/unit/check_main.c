#include <stdlib.h>

#include "suites.h"

int main(void)
{
    SRunner *runner = srunner_create(suite_b64());
    srunner_add_suite(runner, suite_json());
    srunner_add_suite(runner, suite_keys());
    srunner_add_suite(runner, suite_keyload());
    srunner_add_suite(runner, suite_vectors());
    srunner_add_suite(runner, suite_attacks());
    srunner_add_suite(runner, suite_claims());
    srunner_add_suite(runner, suite_audit());
    srunner_add_suite(runner, suite_hints());
    srunner_add_suite(runner, suite_sources());
    srunner_add_suite(runner, suite_remote());
    srunner_add_suite(runner, suite_text());
    srunner_add_suite(runner, suite_bearer());
    srunner_add_suite(runner, suite_time());
    srunner_add_suite(runner, suite_claim_match());
    srunner_add_suite(runner, suite_issuers());
    srunner_add_suite(runner, suite_wycheproof());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
