"""Talk-off corpus: audio that must never be taken for a signalling tone.

Generated at test time and cached under tests/.artifacts/talkoff/ (git-ignored):
- speech: espeak-ng in several languages and voices (male, female, child-like
  pitch, fast and slow), resampled to 8 kHz by sox, at a normal and a loud level;
- music: synthetic, deterministic: melodies and chords of harmonic tones
  (piano-like decay, bowed/organ sustain with vibrato), drums, in several keys
  and tempos, so that equal-tempered notes land near DTMF frequencies
  (F5 = 698.5 Hz, F#6 = 1480 Hz, ...) as real music does;
- noise: white, pink and brown noise, clicks, mains hum with harmonics.
Everything is int16 at 8 kHz.
"""
import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from dsp_ext.levels import DBM0_RMS, RATE, rms_dbm0
from dsp_ext.wav import read_wav

CACHE = Path(__file__).resolve().parent.parent / ".artifacts" / "talkoff"

TEXTS = {
    "en": ("Thank you for calling. All of our agents are busy helping other customers. "
           "Please stay on the line and your call will be answered in the order it was received. "
           "Hello, this is Mary from accounts, I'm calling about invoice number four five nine two, "
           "could you call me back at your earliest convenience? Oh, and one more thing: the meeting "
           "on Thursday moved to half past three, in the big room on the second floor. "
           "We are open Monday to Friday, nine to five. Have a lovely evening, goodbye!"),
    "de": ("Guten Tag, Sie sind verbunden mit dem Kundendienst. Leider sind im Moment alle Leitungen "
           "belegt. Bitte haben Sie etwas Geduld, wir sind gleich fuer Sie da. Hallo Peter, hier ist "
           "Anna, ich wollte nur sagen, dass die Lieferung morgen frueh um acht Uhr kommt. Ruf mich "
           "bitte zurueck, wenn du wieder im Buero bist. Vielen Dank und auf Wiederhoeren."),
    "fr": ("Bonjour et bienvenue. Tous nos conseillers sont actuellement en ligne. Merci de patienter, "
           "votre appel est important pour nous. Allo, c'est Julien, je te rappelle pour le rendez-vous "
           "de jeudi, on se retrouve a dix-huit heures devant la gare. Bonne soiree, a bientot."),
    "es": ("Buenos dias, gracias por llamar. En este momento todos nuestros agentes estan ocupados. "
           "Por favor, espere en la linea. Hola Maria, soy Carlos, te llamo por lo de la cena del "
           "sabado, llamame cuando puedas. Muchas gracias y hasta luego."),
    "it": ("Buongiorno, grazie per aver chiamato. Tutti gli operatori sono occupati, la preghiamo di "
           "attendere in linea. Ciao Giulia, sono Marco, ti chiamo per la riunione di domani mattina "
           "alle nove e mezza. Richiamami appena puoi, grazie mille."),
    "cmn": ("您好，欢迎致电。目前所有客服人员都在忙，请您稍候。您的来电对我们非常重要。"
            "喂，小王，我是老李，明天上午九点的会议改到下午三点了，请你通知一下大家。谢谢，再见。"),
    "ja": ("お電話ありがとうございます。ただいま電話が大変混み合っております。"
           "このままお待ちいただくか、後ほどおかけ直しください。もしもし、田中です。明日の打ち合わせの件でお電話しました。"),
    "hi": ("नमस्ते, कॉल करने के लिए धन्यवाद। इस समय हमारे सभी प्रतिनिधि व्यस्त हैं। कृपया लाइन पर बने रहें। "
           "हैलो, मैं राहुल बोल रहा हूँ, कल की बैठक के बारे में बात करनी थी।"),
    "ru": ("Здравствуйте, спасибо за звонок. Все операторы сейчас заняты, пожалуйста, оставайтесь на линии. "
           "Алло, это Наташа, перезвони мне, пожалуйста, насчёт завтрашней встречи. До свидания."),
    "pt-br": ("Bom dia, obrigado por ligar. Todos os nossos atendentes estao ocupados no momento. "
              "Oi Pedro, aqui e a Fernanda, me liga quando puder sobre o pedido de ontem. Tchau."),
}

# (language, voice variant, pitch 0-99, words per minute)
VOICES = [
    ("en-us", "m3", 40, 165), ("en-us", "f3", 70, 175), ("en-gb", "f4", 85, 150), ("en-gb", "m1", 25, 190),
    ("en-us", "f5", 99, 140),   # high, child-like
    ("de", "m2", 35, 160), ("de", "f2", 75, 170), ("fr-fr", "f1", 65, 175), ("fr-fr", "m4", 30, 155),
    ("es", "m1", 50, 180), ("it", "f3", 80, 165), ("cmn", "f2", 70, 150), ("cmn", "m3", 40, 150),
    ("ja", "f4", 75, 160), ("hi", "m2", 45, 160), ("ru", "f1", 60, 170), ("pt-br", "m5", 55, 175),
]


# espeak-ng's named voice variants, each speaking one of the languages in turn
# at a pitch and speed drawn from a fixed seed, in three rounds: another ~60 minutes of
# distinct speech (each at two levels).
MORE_VARIANTS = ("Alex Alicia Andrea Andy Annie Denis Gene Hugo Jacky Lee Marco Mario Michael Mike Storm "
                 "Tweaky adam anika announcer antonio aunty belinda benjamin boris caleb croak david ed "
                 "edward f1 f2 f3 f4 f5 grandma grandpa gustave iven john klatt klatt2 klatt3 klatt4 linda "
                 "m1 m2 m3 m4 m5 m6 m7 m8 max michel miguel norbert pablo paul pedro").split()
MORE_LANGUAGES = ("en-us", "en-gb", "de", "fr-fr", "es", "it", "cmn", "ja", "hi", "ru", "pt-br")


def _more_voices(rounds: int = 3) -> list[tuple[str, str, int, int]]:
    """Each round has every variant speak another language at another pitch and speed."""
    out = []
    for r in range(rounds):
        rng = np.random.default_rng(5 + r)
        out += [(MORE_LANGUAGES[(i + 5 * r) % len(MORE_LANGUAGES)], v, int(rng.integers(10, 99)),
                 int(rng.integers(130, 200))) for i, v in enumerate(MORE_VARIANTS)]
    return out


def _text_for(lang: str) -> str:
    return TEXTS.get(lang.split("-")[0], TEXTS.get(lang, TEXTS["en"])) if lang != "pt-br" else TEXTS["pt-br"]


def _espeak(lang: str, variant: str, pitch: int, wpm: int) -> np.ndarray:
    key = hashlib.sha1(f"{lang}|{variant}|{pitch}|{wpm}|{_text_for(lang)}".encode()).hexdigest()[:12]
    path = CACHE / f"speech-{lang}-{variant}-{key}.wav"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        # Test workers running side by side (pytest-xdist) speak each file once: the others wait for it.
        with open(CACHE / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                with tempfile.TemporaryDirectory(dir=CACHE) as tmp:      # same file system: an atomic move
                    raw = Path(tmp) / "raw.wav"
                    subprocess.run(["espeak-ng", "-v", f"{lang}+{variant}", "-p", str(pitch), "-s", str(wpm),
                                    "-w", str(raw), _text_for(lang)], check=True, capture_output=True)
                    out = Path(tmp) / "8k.wav"
                    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)],
                                   check=True, capture_output=True)
                    shutil.move(str(out), path)
    return read_wav(path)


def _at_level(x: np.ndarray, active_dbm0: float) -> np.ndarray:
    """Scale so that the *active* part (frames above -50 dBm0) is at `active_dbm0`."""
    x = x.astype(np.float64)
    frames = x[: x.size // 80 * 80].reshape(-1, 80)
    active = frames[np.sqrt((frames ** 2).mean(axis=1)) > DBM0_RMS * 10 ** (-50 / 20)]
    level = rms_dbm0(active) if active.size else rms_dbm0(x)
    return np.clip(np.rint(x * 10 ** ((active_dbm0 - level) / 20)), -32768, 32767).astype(np.int16)


def tools_available() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def speech(more: bool = True) -> list[tuple[str, np.ndarray]]:
    """Every voice at a normal (-18 dBm0) and a loud (-8 dBm0) active level;
    `more=False`: only the 17 hand-picked voices (~9 minutes of distinct speech)."""
    out = []
    for lang, variant, pitch, wpm in VOICES + (_more_voices() if more else []):
        x = _espeak(lang, variant, pitch, wpm)
        for level in (-18, -8):
            out.append((f"speech {lang}+{variant} p{pitch} s{wpm} {level} dBm0", _at_level(x, level)))
    return out


# ---- synthetic music ----

def _note_hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _instrument(freq: float, n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / RATE
    if kind == "piano":
        harmonics = [(k, 0.9 ** k / k, 1.0 + 0.0004 * k * k) for k in range(1, 9)]   # slightly stretched partials
        env = np.exp(-t * (2.5 + freq / 400)) * np.minimum(1, t / 0.004)
        vib = 0.0
    elif kind == "organ":
        harmonics = [(1, 1.0, 1), (2, 0.5, 1), (3, 0.35, 1), (4, 0.25, 1), (6, 0.15, 1), (8, 0.1, 1)]
        env = np.minimum(1, t / 0.02) * np.minimum(1, (t[-1] - t + 1e-3) / 0.03)
        vib = 0.0
    else:   # "strings": sawtooth-like, vibrato
        harmonics = [(k, 1.0 / k, 1) for k in range(1, 11)]
        env = np.minimum(1, t / 0.08) * np.minimum(1, (t[-1] - t + 1e-3) / 0.08)
        vib = 0.006 * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t) * np.minimum(1, t / 0.3)
    phase = 2 * np.pi * freq * (t + np.cumsum(vib) / RATE)
    x = np.zeros(n)
    for k, amp, stretch in harmonics:
        if k * freq * stretch < RATE / 2 - 200:
            x += amp * np.sin(k * stretch * phase + rng.uniform(0, 2 * np.pi))
    return x * env


def _drums(n: int, beat: int, rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(n)
    for start in range(0, n, beat):
        m = min(n - start, RATE // 5)
        t = np.arange(m) / RATE
        kick = np.sin(2 * np.pi * (60 + 90 * np.exp(-t * 30)) * t) * np.exp(-t * 18)
        hat = rng.normal(0, 0.3, m) * np.exp(-t * 60)
        x[start:start + m] += kick + (hat if (start // beat) % 2 else 0)
    return x


def music_corpus(seeds: int = 3) -> list[tuple[str, np.ndarray]]:
    """Six pieces per seed (piano, organ, strings; major and minor; with drums): 9 minutes."""
    return [piece for seed in range(seeds) for piece in music(seed=seed)]


def music(seconds: int = 30, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    major, minor = [0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]
    out = []
    for i, kind in enumerate(("piano", "organ", "strings", "piano", "strings", "organ")):
        n = seconds * RATE
        key = int(rng.integers(0, 12))
        scale = major if i % 2 == 0 else minor
        beat = int(RATE * 60 / rng.uniform(70, 150))
        x = np.zeros(n)
        pos = 0
        while pos < n:
            dur = beat * int(rng.choice([1, 1, 2, 2, 4]))
            m = min(dur, n - pos)
            degree = int(rng.integers(0, 14))
            melody_note = 60 + (key + scale[degree % 7]) % 12 + 12 * (degree // 7)    # C4-B5
            melody = _instrument(_note_hz(melody_note), m, kind, rng)
            chord = sum(_instrument(_note_hz(48 + (key + scale[(degree + k) % 7]) % 12), m, kind, rng) * 0.5
                        for k in (0, 2, 4))                                          # C3-B3
            x[pos:pos + m] += melody + chord
            pos += dur
        if kind != "organ":
            x += 0.6 * _drums(n, beat, rng)
        out.append((f"music {kind} key {key} seed {seed}", _at_level(x, -14)))
    return out


def noises(seconds: int = 20, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    n = seconds * RATE
    white = rng.normal(0, 1, n)
    spectrum = np.fft.rfft(rng.normal(0, 1, n))
    f = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 1.0)
    pink = np.fft.irfft(spectrum / np.sqrt(f), n)
    brown = np.fft.irfft(spectrum / f, n)
    clicks = np.zeros(n)
    clicks[rng.integers(0, n, 200)] = rng.choice([-1, 1], 200)
    t = np.arange(n) / RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 12)) + 0.01 * white
    return [(f"noise {name}", _at_level(x, level)) for name, x, level in (
        ("white", white, -20), ("white loud", white, -6), ("pink", pink, -15), ("brown", brown, -10),
        ("clicks", clicks, -25), ("hum 50 Hz", hum, -15))]
