"""Generation speed of ``chaoskit.inputs`` and recall / precision of ``find_pii``.

* speed: examples per second each strategy generates under ``@given`` (hypothesis's own
  overhead included, the test body empty), and the wall time of a 100-example test.
* find_pii: a labelled set made from ``pii_samples()`` (every planted value is a positive)
  plus negative texts that only look like personal data (order ids, dates, times, version
  numbers, tracking numbers, invoice amounts, short codes). A match is a true positive when
  it is a planted value found whole with its kind; anything else it reports is a false
  positive. Recall is per planted value; precision per reported match.

Run: ``.venv/bin/python benchmarks/bench_inputs.py [--examples N] [--samples N]``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit import inputs
from chaoskit._pii import find_pii


def examples_per_second(strategy: st.SearchStrategy[object], examples: int) -> tuple[float, float]:
    """(examples per second, seconds) for one ``@given`` run of ``examples`` examples."""
    count = 0

    @settings(max_examples=examples, deadline=None, database=None)
    @given(strategy)
    def run(_: object) -> None:
        nonlocal count
        count += 1

    start = time.perf_counter()
    run()
    took = time.perf_counter() - start
    return count / took, took


def labelled_positives(samples: int) -> list[tuple[str, list[tuple[str, str]]]]:
    """``samples`` texts from ``pii_samples(kind)``, each with its planted (kind, value) pairs."""
    out: list[tuple[str, list[tuple[str, str]]]] = []
    per_kind = max(1, samples // len(inputs.PII_KINDS))
    for kind in inputs.PII_KINDS:

        @settings(max_examples=per_kind, deadline=None, database=None)
        @given(inputs.pii_samples(kind).map(lambda sample, kind=kind: (sample[0], [(kind, v) for v in sample[1]])))
        def collect(sample: tuple[str, list[tuple[str, str]]]) -> None:
            out.append(sample)

        collect()
    return out


def negatives(n: int, seed: int = 0) -> list[str]:
    """Texts with numbers that are not personal data."""
    rnd = random.Random(seed)
    makers = [
        lambda: f"Where is order #{rnd.randint(10000, 99999999)}?",
        lambda: f"My order A{rnd.randint(100, 99999)}-{rnd.randint(10, 99)} has not arrived.",
        lambda: f"It was delivered on {rnd.randint(2000, 2030)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}.",
        lambda: f"Meeting at {rnd.randint(2000, 2030)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d} "
        f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}.",
        lambda: f"The app version is {rnd.randint(1, 20)}.{rnd.randint(0, 40)}.{rnd.randint(0, 200)}.",
        lambda: f"Build {rnd.randint(1, 9)}.{rnd.randint(0, 99)}.{rnd.randint(0, 999)}.{rnd.randint(1000, 99999)} crashed.",
        lambda: f"UPS tracking 1Z{rnd.randint(10**15, 10**16 - 1):X}",
        lambda: f"USPS tracking {rnd.randint(10**21, 10**22 - 1)}",
        lambda: f"FedEx tracking {rnd.randint(10**11, 10**12 - 1)}",
        lambda: f"Invoice total was ${rnd.randint(1, 99999)}.{rnd.randint(0, 99):02d} on {rnd.randint(1, 12)}/{rnd.randint(1, 28)}/2024.",
        lambda: f"Your verification code is {rnd.randint(100000, 999999)}.",
        lambda: f"Ticket INC{rnd.randint(1000000, 9999999)} was closed.",
        lambda: f"Timestamp {rnd.randint(1_600_000_000, 1_800_000_000)} in the logs.",
        lambda: f"Serial SN-{rnd.randint(1000, 9999)}-{rnd.randint(1000, 9999)}-{rnd.randint(1000, 9999)}",
        lambda: f"I paid {rnd.randint(1, 500)} EUR for {rnd.randint(1, 9)} items, ref {rnd.randint(100, 999)}-{rnd.randint(100, 999)}.",
        lambda: f"IP {rnd.randint(1, 255)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)} is blocked.",
    ]
    return [rnd.choice(makers)() for _ in range(n)]


def faker_phone_recall(per_locale: int) -> None:
    """Recall on faker's own ``phone_number()`` per locale: the formats ``PHONE_FORMATS`` leaves out."""
    from faker import Faker

    print(f"\nfind_pii on faker phone_number(), {per_locale} per locale (found whole, as a phone)")
    print(f"{'locale':8} {'recall':>8}  missed, for example")
    for locale in ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN", "zh_CN", "ja_JP",
                   "ko_KR", "pt_BR", "en_AU", "he_IL"):
        fake = Faker(locale)
        missed = []
        for seed in range(per_locale):
            fake.seed_instance(seed)
            value = fake.phone_number()
            if not any(m.kind == "phone" and m.value == value for m in find_pii(f"call me on {value} please")):
                missed.append(value)
        print(f"{locale:8} {1 - len(missed) / per_locale:8.3f}  {', '.join(repr(x) for x in missed[:3])}")


def measure(samples: int, negative_count: int) -> None:
    positives = labelled_positives(samples)
    found_by_kind: Counter[str] = Counter()
    planted_by_kind: Counter[str] = Counter()
    tp = fp = 0
    fp_examples: list[str] = []
    missed: list[str] = []
    for text, planted in positives:
        matches = find_pii(text)
        hits = {(m.kind, m.value) for m in matches}
        for kind, value in planted:
            planted_by_kind[kind] += 1
            if (kind, value) in hits:
                found_by_kind[kind] += 1
            else:
                missed.append(f"{kind}: {value!r}")
        wanted = set(planted)
        for m in matches:
            if (m.kind, m.value) in wanted:
                tp += 1
            else:
                fp += 1
                fp_examples.append(f"{m.kind} {m.value!r} in a positive text")
    negative_texts = negatives(negative_count)
    neg_fp: Counter[str] = Counter()
    for text in negative_texts:
        for m in find_pii(text):
            fp += 1
            neg_fp[m.kind] += 1
            fp_examples.append(f"{m.kind} {m.value!r} in {text!r}")

    print(f"\nfind_pii on {len(positives)} positive texts ({sum(planted_by_kind.values())} planted values) "
          f"and {len(negative_texts)} negative texts")
    print(f"{'kind':8} {'planted':>8} {'found':>8} {'recall':>8}")
    for kind in inputs.PII_KINDS:
        n, k = planted_by_kind[kind], found_by_kind[kind]
        print(f"{kind:8} {n:8d} {k:8d} {k / n if n else float('nan'):8.3f}")
    total, hit = sum(planted_by_kind.values()), sum(found_by_kind.values())
    print(f"{'all':8} {total:8d} {hit:8d} {hit / total:8.3f}")
    precision = tp / (tp + fp) if tp + fp else float("nan")
    print(f"precision: {precision:.3f} ({tp} true, {fp} false positives; {sum(neg_fp.values())} of them in negatives"
          f"{': ' + dict(neg_fp).__repr__() if neg_fp else ''})")
    for line in missed[:5]:
        print("  missed", line)
    for line in fp_examples[:8]:
        print("  false positive", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="examples per speed run (default 500)")
    parser.add_argument("--samples", type=int, default=1200, help="positive texts for find_pii (default 1200)")
    parser.add_argument("--negatives", type=int, default=1000, help="negative texts for find_pii (default 1000)")
    args = parser.parse_args()

    strategies: dict[str, st.SearchStrategy[object]] = {
        "adversarial_text()": inputs.adversarial_text(),
        "blank()": inputs.blank(),
        "messy_text()": inputs.messy_text(),
        "unicode_edge()": inputs.unicode_edge(),
        "oversized(8000)": inputs.oversized(8000),
        "multilingual()": inputs.multilingual(),
        "pii_samples()": inputs.pii_samples(),
        "prompt_injections()": inputs.prompt_injections(),
        "markup()": inputs.markup(),
        "conversations()": inputs.conversations(),
    }
    print(f"{'strategy':22} {'examples/s':>11} {'100-example test':>17}")
    for name, strategy in strategies.items():
        rate, _ = examples_per_second(strategy, args.examples)
        _, hundred = examples_per_second(strategy, 100)
        print(f"{name:22} {rate:11.0f} {hundred:16.2f}s")
    measure(args.samples, args.negatives)
    faker_phone_recall(200)


if __name__ == "__main__":
    main()
