"""The campaigns' answering-machine detection measured over espeak-ng voices of twelve languages,
three speaking rates and two voice variants: people answering with a word or a short phrase,
then waiting; machines playing a long greeting, then a beep. Every case goes through a telephone
line's treatment (G.711 mu-law, line noise at -60 dBm0), the call-progress analyser the engine
runs on the line (`dsp_ext.progress`, C kernel) and the detector (`firmware.campaigns.amd`), as
bench/amd_accuracy.py does. None of these phrases was used to tune the detector.

`python -m bench.amd_voices` prints each miss and the confusion matrix (rows: who answered;
columns: the detector's verdict) per speaking rate and in all; `--markdown` prints the README
table. Deterministic (no timing): it may run on a busy machine. tests/campaigns/test_amd_voices.py
keeps a fixed part of this corpus and fails below the accuracy measured here minus a margin.
"""
from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass

HUMAN, MACHINE = "human", "machine"
VERDICTS = ("human", "machine", "silent")

# language: (two ways people answer, an answering machine's greeting)
LANGUAGES: dict[str, tuple[tuple[str, str], str]] = {
    "en-us": (("Hello?", "Yes, hello, this is Mark."),
              "Hi, you've reached Mark and Lisa. We can't come to the phone right now. "
              "Please leave your name and number after the beep."),
    "en-gb": (("Hello?", "Good morning, Sarah speaking."),
              "Hello, you have reached the Browns. Sorry we missed your call. "
              "Please leave a message and we will ring you back."),
    "de": (("Hallo?", "Ja, Becker hier."),
           "Guten Tag, hier ist der Anrufbeantworter von Thomas Becker. Ich bin gerade nicht erreichbar. "
           "Bitte sprechen Sie nach dem Ton."),
    "fr-fr": (("Allô?", "Oui, bonjour, c'est Claire."),
              "Bonjour, vous êtes bien sur la messagerie de Claire Martin. Je ne peux pas répondre "
              "pour le moment, laissez-moi un message."),
    "es": (("¿Sí?", "¿Diga? Soy Carmen."),
           "Hola, soy Carmen López. En este momento no puedo atenderte. "
           "Deja tu nombre y tu número después de la señal."),
    "it": (("Pronto?", "Sì, pronto, sono Luca."),
           "Salve, avete chiamato lo studio di Luca Rossi. Al momento non siamo disponibili, "
           "lasciate un messaggio dopo il segnale."),
    "pt-br": (("Alô?", "Oi, aqui é a Ana."),
              "Oi, aqui é a Ana Costa. Não posso atender agora. Deixe seu nome e telefone "
              "que eu ligo de volta."),
    "nl": (("Hallo?", "Met Pieter de Vries."),
           "Hallo, dit is de voicemail van Pieter de Vries. Ik ben op dit moment niet bereikbaar. "
           "Laat een bericht achter na de toon."),
    "pl": (("Halo?", "Tak, słucham, Kowalski."),
           "Dzień dobry, tu poczta głosowa Marka Kowalskiego. Nie mogę teraz rozmawiać. "
           "Proszę zostawić wiadomość po sygnale."),
    "sv": (("Hallå?", "Ja, det är Erik."),
           "Hej, du har ringt Erik Lind. Jag kan inte svara just nu. Lämna ett meddelande efter tonen "
           "så ringer jag upp."),
    "ru": (("Алло?", "Да, слушаю."),
           "Здравствуйте, это автоответчик Ивана Петрова. Сейчас я не могу ответить. "
           "Оставьте сообщение после звукового сигнала."),
    "tr": (("Alo?", "Efendim, buyurun."),
           "Merhaba, Ahmet Yılmaz'ı aradınız. Şu anda telefona cevap veremiyorum. "
           "Lütfen sinyal sesinden sonra mesaj bırakın."),
}
RATES = (130, 175, 220)                 # words per minute: slow, usual, fast
VARIANTS = ("", "+f3")                  # espeak-ng's default (male) voice and a female variant


@dataclass(frozen=True)
class Case:
    voice: str
    wpm: int
    truth: str
    text: str


@dataclass
class Outcome:
    case: Case
    verdict: str
    cause: str
    after_s: float

    @property
    def right(self) -> bool:
        # a person the detector calls "silent" (no word heard) still goes to the agent: not a miss
        return self.verdict == self.case.truth or (self.case.truth == HUMAN and self.verdict == "silent")


def corpus(languages: tuple[str, ...] | None = None, rates: tuple[int, ...] = RATES) -> list[Case]:
    cases = []
    for n, (lang, (people, machine)) in enumerate(LANGUAGES.items()):
        if languages is not None and lang not in languages:
            continue
        for k, wpm in enumerate(rates):
            voice = lang + VARIANTS[(n + k) % len(VARIANTS)]
            cases += [Case(voice, wpm, HUMAN, t) for t in people]
            cases.append(Case(voice, wpm, MACHINE, machine))
    return cases


def audio(case: Case):
    """What the line carries after the answer: 0.3 s, the words, then (machines) a pause and
    the beep, then 6 s of nothing."""
    import numpy as np

    from bench.amd_accuracy import BEEP_HZ, BEEP_MS
    from drivers.sim.speech import speak
    from dsp_ext.tones import tone
    parts = [np.zeros(2400, np.int16), speak(case.text, voice=case.voice, wpm=case.wpm)]
    if case.truth == MACHINE:
        parts += [np.zeros(3200, np.int16), tone([BEEP_HZ], BEEP_MS, -12.0)]
    parts.append(np.zeros(48000, np.int16))
    return np.concatenate(parts)


def run(cases: list[Case]) -> list[Outcome]:
    from bench.amd_accuracy import classify, line_treatment
    out = []
    for n, case in enumerate(cases):
        verdict, cause, after = classify(line_treatment(audio(case), seed=n))
        out.append(Outcome(case, verdict, cause, after))
    return out


def matrix(outcomes: list[Outcome]) -> dict[str, Counter]:
    m: dict[str, Counter] = {HUMAN: Counter(), MACHINE: Counter()}
    for o in outcomes:
        m[o.case.truth][o.verdict if o.verdict in VERDICTS else "silent"] += 1
    return m


def accuracy(outcomes: list[Outcome]) -> float:
    return sum(o.right for o in outcomes) / len(outcomes) if outcomes else 0.0


def table(outcomes: list[Outcome], title: str) -> str:
    m = matrix(outcomes)
    lines = [f"{title}: {sum(o.right for o in outcomes)}/{len(outcomes)} right ({accuracy(outcomes):.0%})", "",
             "| answered by | → human | → machine | → silent |", "|---|---|---|---|"]
    for truth in (HUMAN, MACHINE):
        row = m[truth]
        lines.append(f"| {'a person' if truth == HUMAN else 'a machine'} ({sum(row.values())}) | "
                     + " | ".join(str(row[v]) for v in VERDICTS) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    out = run(corpus())
    misses = [o for o in out if not o.right]
    print(f"{len(out)} cases: {len(LANGUAGES)} languages x {len(RATES)} rates ({', '.join(map(str, RATES))} wpm), "
          f"voice variants {VARIANTS}\n")
    for wpm in RATES:
        print(table([o for o in out if o.case.wpm == wpm], f"{wpm} wpm") + "\n")
    print(table(out, "all") + "\n")
    print("misses:" if misses else "no misses")
    for o in misses:
        print(f"  {o.case.voice} {o.case.wpm} wpm {o.case.truth} {o.case.text[:50]!r}: {o.verdict} ({o.cause}) "
              f"after {o.after_s:.1f} s")
    slow = sorted(o.after_s for o in out if o.case.truth == HUMAN and o.verdict == HUMAN)
    if slow:
        print(f"\npeople decided after: median {slow[len(slow) // 2]:.1f} s, max {slow[-1]:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
