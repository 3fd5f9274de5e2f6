#!/usr/bin/env python3
"""A local stand-in of the OpenAI HTTP API that specs start and steer.

Usage: fake_server.py [--port N] [--port-file PATH] [--standin]
Binds 127.0.0.1 (port 0 picks a free one), prints "PORT <n>" on stdout (and
writes the same line to PATH when given), serves until its stdin closes or a
POST /__control/shutdown arrives.

--standin (or POST /__control/standin {"on": true}) makes it a local stand-in
of the API for the demo and the examples: unscripted requests to
/v1/chat/completions, /v1/audio/transcriptions and /v1/audio/speech get
answers in the API's own shapes (see "The stand-in" below). Without it those
paths answer 404 like any other unknown path, so specs see only what they script.

Control endpoints (JSON in and out, never recorded):
  GET  /__control/ping                      -> {"ok": true, "python": <this interpreter>}
  POST /__control/script   {path, responses} queue responses for a path, served in order
  POST /__control/default  {path, response}  answer every unscripted request to path so
                                             (response null restores the built-in default)
  GET  /__control/requests                  -> {"requests": [...]} oldest first
  POST /__control/clear                     forget scripts, defaults and recorded requests
  POST /__control/standin  {on}              turn the stand-in answers on or off
  POST /__control/ear  {sentences, delay}     sentences the stand-in's ear knows ({text, seconds,
                                             speaker?, fail?}) and its latency per request (see "the ear")
  POST /__control/shutdown

Strings in control JSON are bytes: the JSON is read and written as UTF-8 with
surrogateescape, so binary bodies cross both ways unchanged.

A response is a dict; every key is optional:
  status, headers (map, or list of [name, value] pairs for repeats),
  body | json | events | chunks (what is sent), repeat (send those N times over),
  split (re-cut into N-byte pieces),
  chunk_delay (seconds between pieces), drip {bytes, interval}, delay (before the
  status line), silence (after the headers), cut_after (body bytes sent before the
  connection closes), reset (close with RST), hangup (close without answering),
  hold (seconds to wait before the status line, watching the client: when it
  closes the connection, the request's record gets closed_after, the seconds
  from its arrival, and nothing is sent: a hung upstream its caller gave up on;
  a client that goes away while the body is being sent, as a cancelled stream
  does, gets closed_after too, noticed at the next piece that cannot be sent),
  http10 (HTTP/1.0, close-delimited), no_length (chunked encoding), close,
  wire (these exact bytes instead of a status line, headers and body, then the
  connection closes: responses no HTTP library would write).
"""

import argparse
import array
import base64
import hashlib
import http
import http.server
import json
import math
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings

CONTROL = "/__control/"


def to_bytes(text):
    return text.encode("utf-8", "surrogateescape")


def as_bytes(text):
    """Scripted bodies are text; the built-in handlers may answer with bytes."""
    return text if isinstance(text, bytes) else to_bytes(text)


def json_bytes(value):
    return to_bytes(json.dumps(value, ensure_ascii=False))


def as_list(value):
    """cjson encodes an empty Lua table as {}: read it as an empty list."""
    if value is None or value == {}:
        return []
    return value


def openai_error(status, message, code, error_type="invalid_request_error"):
    return {"status": status,
            "json": {"error": {"message": message, "type": error_type, "param": None, "code": code}}}


MODELS = ["gpt-audio-mini", "gpt-audio-mini-2025-12-15", "gpt-4o-mini-transcribe",
          "gpt-4o-transcribe", "whisper-1", "gpt-4o-mini-tts", "tts-1", "tts-1-hd"]


def list_models(_request):
    return {"json": {"object": "list",
                     "data": [{"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                              for m in MODELS]}}


def request_json(request):
    """The request body decoded as JSON, or None when it is not JSON."""
    try:
        return json.loads(request["body"])
    except ValueError:
        return None


# Built-in answers for unscripted requests: path (without query) -> function(request) -> response.
# A request is the dict recorded for it: method, path (with query), headers (lower-case
# names), header_list, body (a str; to_bytes(body) gives the exact bytes), connection.
DEFAULT_HANDLERS = {
    "/v1/models": list_models,
}


def not_found(request):
    return openai_error(404, "Unknown request URL: %s %s. Please check the URL for typos, "
                        "or see the docs at the API reference." % (request["method"], request["path"]),
                        "unknown_url")


# ---------------------------------------------------------------- the stand-in
#
# Answers in the API's own shapes, so the demo and the examples run without an
# account. It speaks with espeak-ng when installed (22,050 Hz, resampled to the
# API's 24 kHz with sox when installed, else linearly here), a tone otherwise;
# it remembers what it said by the SHA-256 of the 24 kHz mono s16le samples, so
# a transcription of audio it produced returns those words, and any other audio
# gets FIXED_SENTENCE. Chat replies: a verbatim transcript when the system
# message asks to transcribe, the user's words when it asks to read aloud, a
# call of the first tool (arguments made from its schema) when tools are given
# and the last message is the user's, else an answer that repeats what it heard.

API_RATE = 24000
ESPEAK_RATE = 22050
ESPEAK_WORDS_PER_MINUTE = 175
SNAPSHOT = "-2025-12-15"
KNOWN_MODELS = {"gpt-audio-mini", "gpt-audio", "gpt-audio-1.5", "gpt-4o-audio-preview", "gpt-4o-mini-audio-preview",
                "gpt-4o-mini-transcribe", "gpt-4o-transcribe", "gpt-4o-transcribe-diarize", "whisper-1",
                "gpt-4o-mini-tts", "tts-1", "tts-1-hd"}
FIXED_SENTENCE = "This is the gptaudio stand-in server: it only knows the words it spoke itself."
# Odd, so that streamed audio pieces end in the middle of a sample, as the API's may.
AUDIO_PIECE_BYTES = 4801
AUDIO_TOKENS_PER_SECOND = 10
MAX_SPEECH_CHARACTERS = 4096
CONTENT_TYPES = {"pcm": "audio/pcm", "wav": "audio/wav", "flac": "audio/flac"}
LANGUAGES = {"en": "english", "fr": "french", "de": "german", "es": "spanish", "it": "italian", "ja": "japanese"}


def answered_model(asked):
    """The id a response names: a dated snapshot of a known id, else the id as asked."""
    if asked in KNOWN_MODELS:
        return asked + SNAPSHOT
    return asked


def text_tokens(text):
    return max(1, math.ceil(len(text) / 4))


def audio_tokens(pcm):
    return math.ceil(len(pcm) / 2 / API_RATE * AUDIO_TOKENS_PER_SECOND)


def wav_bytes(pcm, rate=API_RATE):
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, 1, rate,
                         rate * 2, 2, 16, b"data", len(pcm))
    return header + pcm


def wav_samples(data):
    """(rate, channels, bits, sample bytes) of a PCM WAV file, or None. A data
    chunk whose size runs past the end (espeak-ng writing to a pipe) is cut there."""
    if len(data) < 12 or data[0:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    at, fmt = 12, None
    while at + 8 <= len(data):
        chunk, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        body = data[at + 8:at + 8 + size]
        if chunk == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data" and fmt and fmt[0] == 1:
            return fmt[2], fmt[1], fmt[3], body
        at += 8 + size + (size & 1)
    return None


def resample_linear(pcm, rate_in, rate_out):
    samples = array.array("h", pcm)
    n_out = len(samples) * rate_out // rate_in
    out = array.array("h", bytes(2 * n_out))
    step = rate_in / rate_out
    for i in range(n_out):
        position = i * step
        j = int(position)
        frac = position - j
        a = samples[j]
        b = samples[j + 1] if j + 1 < len(samples) else a
        out[i] = int(round(a + (b - a) * frac))
    return out.tobytes()


def resample(pcm, rate_in):
    """16-bit mono pcm at rate_in as 24 kHz: through sox when installed."""
    sox = shutil.which("sox")
    if sox:
        raw = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L"]
        done = subprocess.run([sox] + raw + ["-r", str(rate_in), "-"] + raw + ["-r", str(API_RATE), "-"],
                              input=pcm, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        return done.stdout
    return resample_linear(pcm, rate_in, API_RATE)


def tone(text, speed):
    """Without espeak-ng: a beep per word, its pitch and length from the word, a pause after it."""
    frames = []
    for word in text.split() or [text]:
        pitch = 220 + 40 * (sum(word.encode("utf-8", "surrogateescape")) % 8)
        count = int(API_RATE * (0.08 + 0.04 * len(word)) / speed)
        frames.extend(int(8000 * math.sin(2 * math.pi * pitch * t / API_RATE)) for t in range(count))
        frames.extend([0] * int(API_RATE * 0.05 / speed))
    return array.array("h", frames).tobytes()


class Voice:
    """Speech the stand-in makes, and what it remembers having said."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spoken = {}
        self.cache = {}

    def synthesize(self, text, speed=1.0):
        key = (text, speed)
        with self.lock:
            cached = self.cache.get(key)
        if cached is None:
            cached = self.make(text, speed)
            with self.lock:
                self.cache[key] = cached
        return cached

    @staticmethod
    def make(text, speed):
        espeak = shutil.which("espeak-ng")
        if not espeak:
            return tone(text, speed)
        done = subprocess.run([espeak, "--stdout", "--stdin", "-s", str(round(ESPEAK_WORDS_PER_MINUTE * speed))],
                              input=text.encode("utf-8", "surrogateescape"), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=True)
        rate, _, _, pcm = wav_samples(done.stdout)
        return resample(pcm[:len(pcm) - len(pcm) % 2], rate)

    def speak(self, text, speed=1.0):
        """24 kHz mono s16le pcm saying text, remembered for transcription."""
        pcm = self.synthesize(text, speed)
        with self.lock:
            self.spoken[hashlib.sha256(pcm).hexdigest()] = text
        return pcm

    def recall(self, audio_file):
        """The words it said in this audio file, or None."""
        found = wav_samples(audio_file)
        if not found or found[0] != API_RATE or found[1] != 1 or found[2] != 16:
            return None
        with self.lock:
            return self.spoken.get(hashlib.sha256(found[3]).hexdigest())

    def hear(self, audio_file):
        return self.recall(audio_file) or FIXED_SENTENCE


VOICE = Voice()


# ---- the ear: sentences a spec registered, heard back by their lengths
#
# A spec that builds a long recording from known sentences (espeak-ng speech
# with known pauses) registers them: {text, seconds, speaker?, fail?}. In any
# audio the stand-in does not know by its hash, the ear finds the bursts of
# speech (10 ms RMS levels over an adaptive threshold, gaps under
# EAR_GAP_SECONDS bridged) and names each by the registered sentence whose
# length is nearest (within EAR_TOLERANCE_SECONDS; else UNCLEAR). So a piece
# cut inside a sentence comes back wrong, and texts, times and speakers can
# be checked against what the spec built. A sentence registered with
# fail = <status> makes every request that holds it fail with that status.

EAR_WINDOW_SECONDS = 0.01
EAR_GAP_SECONDS = 0.3
EAR_MIN_BURST_SECONDS = 0.15
EAR_TOLERANCE_SECONDS = 0.35
UNCLEAR = "[unclear]"


try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop  # C speed; Python 3.13 drops it

    def rms(chunk):
        return audioop.rms(chunk, 2)
except ImportError:
    def rms(chunk):
        samples = array.array("h", chunk)
        return math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))


def window_levels(pcm, rate):
    """The dBFS level of each 10 ms window of 16-bit mono pcm."""
    step = max(1, int(rate * EAR_WINDOW_SECONDS)) * 2
    levels = []
    for at in range(0, len(pcm) - step + 1, step):
        value = rms(pcm[at:at + step]) / 32768.0
        levels.append(20 * math.log10(value) if value > 0 else -120.0)
    return levels


def speech_bursts(pcm, rate):
    """[(start, end)] in seconds of the bursts of speech in 16-bit mono pcm."""
    levels = window_levels(pcm, rate)
    if not levels:
        return []
    ordered = sorted(levels)
    floor, speech = ordered[len(ordered) // 10], ordered[len(ordered) * 9 // 10]
    threshold = floor + max(3.0, (speech - floor) * 0.3)
    bursts = []
    for i, level in enumerate(levels):
        if level < threshold:
            continue
        t = i * EAR_WINDOW_SECONDS
        if bursts and t - bursts[-1][1] <= EAR_GAP_SECONDS:
            bursts[-1][1] = t + EAR_WINDOW_SECONDS
        else:
            bursts.append([t, t + EAR_WINDOW_SECONDS])
    return [(a, b) for a, b in bursts if b - a >= EAR_MIN_BURST_SECONDS]


class Ear:
    def __init__(self):
        self.lock = threading.Lock()
        self.sentences = []
        self.delay = 0

    def learn(self, sentences, delay):
        with self.lock:
            self.sentences = as_list(sentences)
            self.delay = float(delay or 0)

    def forget(self):
        self.learn([], 0)

    def listening(self):
        with self.lock:
            return bool(self.sentences)

    def wait(self):
        """The latency a spec or bench asked for, once per request the ear answers."""
        with self.lock:
            delay = self.delay
        time.sleep(delay)

    def segments(self, audio_file):
        """[{text, start, end, speaker, fail}] heard in a WAV file, or None when nothing is registered."""
        with self.lock:
            sentences = list(self.sentences)
        found = wav_samples(audio_file)
        if not sentences or not found or found[1] != 1 or found[2] != 16:
            return None
        heard = []
        for start, end in speech_bursts(found[3], found[0]):
            nearest = min(sentences, key=lambda s: abs(float(s["seconds"]) - (end - start)))
            known = abs(float(nearest["seconds"]) - (end - start)) <= EAR_TOLERANCE_SECONDS
            heard.append({"text": nearest["text"] if known else UNCLEAR, "start": round(start, 3),
                          "end": round(end, 3), "speaker": nearest.get("speaker") if known else None,
                          "fail": nearest.get("fail") if known else None})
        return heard


EAR = Ear()


def listen(audio_file):
    """What the stand-in hears in an audio file: its text, and the ear's segments (None when the ear
    did not hear it: the stand-in's own speech, or nothing registered)."""
    known = VOICE.recall(audio_file)
    if known:
        return known, None
    segments = EAR.segments(audio_file)
    if segments is None:
        return FIXED_SENTENCE, None
    return " ".join(s["text"] for s in segments), segments


def ear_failure(segments):
    """The error response a registered failing sentence asks for, or None."""
    for segment in segments or []:
        if segment.get("fail"):
            return openai_error(int(segment["fail"]), "The stand-in's ear was told to fail on: " + segment["text"],
                                "server_error", "server_error")
    return None


def encode_audio(pcm, fmt):
    """The audio in a format the stand-in can honestly make, or None."""
    if fmt in ("pcm", "pcm16"):
        return pcm
    if fmt == "wav":
        return wav_bytes(pcm)
    sox = shutil.which("sox")
    if fmt == "flac" and sox:
        done = subprocess.run([sox, "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L", "-r",
                               str(API_RATE), "-", "-t", "flac", "-"], input=pcm, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=True)
        return done.stdout
    return None


def cannot_make(fmt):
    return openai_error(400, "The stand-in server cannot make %s audio: ask for pcm, wav or flac (with sox)." % fmt,
                        "unsupported_format")


def pieces_of(data, size=AUDIO_PIECE_BYTES):
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def b64(data):
    return base64.b64encode(data).decode("ascii")


def bad_request(message, param=None, code=None):
    response = openai_error(400, message, code)
    response["json"]["error"]["param"] = param
    return response


# ---- multipart

def multipart_form(request):
    """{name: [values]} of a multipart/form-data body; a file value is (filename, bytes)."""
    match = re.search(r'boundary="?([^";]+)"?', request["headers"].get("content-type", ""))
    form = {}
    if not match:
        return form
    delimiter = b"--" + match.group(1).encode("latin-1")
    for part in to_bytes(request["body"]).split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, value = part.partition(b"\r\n\r\n")
        value = value[:-2] if value.endswith(b"\r\n") else value
        disposition = re.search(rb'name="([^"]*)"(?:; filename="([^"]*)")?', head)
        if not disposition:
            continue
        name = disposition.group(1).decode("utf-8", "surrogateescape")
        if disposition.group(2) is not None:
            entry = (disposition.group(2).decode("utf-8", "surrogateescape"), value)
        else:
            entry = value.decode("utf-8", "surrogateescape")
        form.setdefault(name, []).append(entry)
    return form


# ---- /v1/audio/speech

def speech(request):
    body = request_json(request)
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.")
    for name in body:
        if name not in ("model", "input", "voice", "instructions", "response_format", "speed", "stream_format"):
            return bad_request("Unrecognized request argument supplied: %s" % name, name)
    for name in ("model", "input", "voice"):
        if not body.get(name):
            return bad_request("Missing required parameter: '%s'." % name, name)
    model, text = body["model"], body["input"]
    legacy = model.startswith("tts-1")
    if len(text) > MAX_SPEECH_CHARACTERS:
        return bad_request("input: at most %d characters." % MAX_SPEECH_CHARACTERS, "input")
    if legacy and "instructions" in body:
        return bad_request("instructions are not supported for %s." % model, "instructions")
    stream_format = body.get("stream_format", "audio")
    if legacy and stream_format == "sse":
        return bad_request("stream_format 'sse' is not supported for %s." % model, "stream_format")
    speed = float(body.get("speed", 1))
    if not 0.25 <= speed <= 4:
        return bad_request("speed must be from 0.25 to 4.", "speed")
    fmt = body.get("response_format", "mp3")
    pcm = VOICE.speak(text, speed)
    if stream_format == "sse":
        if fmt != "pcm":
            return cannot_make(fmt + " as sse")
        events = [{"data": {"type": "speech.audio.delta", "audio": b64(piece)}} for piece in pieces_of(pcm)]
        tokens_in, tokens_out = text_tokens(text), audio_tokens(pcm)
        events.append({"data": {"type": "speech.audio.done", "usage": {
            "input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}}})
        return {"events": events, "no_length": True}
    audio = encode_audio(pcm, fmt)
    if audio is None:
        return cannot_make(fmt)
    return {"chunks": pieces_of(audio), "no_length": True, "headers": {"content-type": CONTENT_TYPES[fmt]}}


# ---- /v1/audio/transcriptions

def first(form, name, default=None):
    values = form.get(name)
    return values[0] if values else default


def transcription_usage(model, text, duration):
    if model.startswith("whisper"):
        return {"type": "duration", "seconds": math.ceil(duration)}
    heard = math.ceil(duration * AUDIO_TOKENS_PER_SECOND)
    out = text_tokens(text)
    return {"type": "tokens", "input_tokens": heard, "input_token_details": {"text_tokens": 0, "audio_tokens": heard},
            "output_tokens": out, "total_tokens": heard + out}


def timestamp(seconds, separator):
    ms = int(round(seconds * 1000))
    return "%02d:%02d:%02d%s%03d" % (ms // 3600000, ms // 60000 % 60, ms // 1000 % 60, separator, ms % 1000)


def timed_words(text, duration):
    words = text.split()
    step = duration / max(1, len(words))
    return [{"word": w, "start": round(i * step, 3), "end": round((i + 1) * step, 3)} for i, w in enumerate(words)]


DIARIZE = "gpt-4o-transcribe-diarize"
# The diarizing model refuses a longer input unless chunking_strategy is set.
DIARIZE_UNCHUNKED_SECONDS = 30


def whole_segment(text, duration):
    return [{"text": text, "start": 0.0, "end": duration, "speaker": None}]


def verbose_segments(heard):
    return [{"id": i, "seek": 0, "start": h["start"], "end": h["end"], "text": " " + h["text"], "tokens": [],
             "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0, "no_speech_prob": 0.01}
            for i, h in enumerate(heard)]


def verbose_answer(task, form, text, duration, heard, usage):
    """The verbose_json body: segments from the ear's bursts when it heard them, else one of the whole."""
    granularities = form.get("timestamp_granularities[]", ["segment"])
    answer = {"task": task, "language": LANGUAGES.get(first(form, "language", "en"), "english"),
              "duration": duration, "text": text, "usage": usage}
    if "word" in granularities:
        answer["words"] = [w for h in heard for w in
                           [dict(w, start=round(w["start"] + h["start"], 3), end=round(w["end"] + h["start"], 3))
                            for w in timed_words(h["text"], h["end"] - h["start"])]]
    if "segment" in granularities:
        answer["segments"] = verbose_segments(heard)
    return {"json": answer}


def data_url_audio(url):
    """The bytes of a data:audio/...;base64, URL, or None."""
    match = re.match(r"data:audio/[\w.+-]+;base64,(.*)$", url, re.S)
    if not match:
        return None
    try:
        return base64.b64decode(match.group(1), validate=True)
    except ValueError:
        return None


def known_speakers(form):
    """{ear speaker label: given name} from known_speaker_names[] and the reference clips (each heard by
    the ear, so a clip of a registered sentence names that sentence's speaker), or an error response."""
    names = form.get("known_speaker_names[]", [])
    references = form.get("known_speaker_references[]", [])
    if len(names) != len(references):
        return None, bad_request("known_speaker_names and known_speaker_references must be the same length.",
                                 "known_speaker_references")
    labels = {}
    for name, reference in zip(names, references):
        clip = data_url_audio(reference)
        if clip is None:
            return None, bad_request("known_speaker_references must be data URLs of audio.",
                                     "known_speaker_references")
        for heard in EAR.segments(clip) or []:
            if heard.get("speaker"):
                labels[heard["speaker"]] = name
    return labels, None


def diarized(form, text, duration, heard, usage):
    labels, failure = known_speakers(form)
    if failure:
        return failure
    if first(form, "prompt") is not None:
        return bad_request("Prompt is not supported for diarization models.", "prompt")
    if duration > DIARIZE_UNCHUNKED_SECONDS and first(form, "chunking_strategy") is None:
        return bad_request("chunking_strategy is required for diarization of inputs longer than 30 seconds.",
                           "chunking_strategy")
    fmt = first(form, "response_format", "json")
    if fmt not in ("json", "text", "diarized_json"):
        return bad_request("response_format must be json, text or diarized_json for %s." % DIARIZE,
                           "response_format", "unsupported_value")
    segments = [{"type": "transcript.text.segment", "id": "seg_%03d" % i, "start": h["start"], "end": h["end"],
                 "text": h["text"], "speaker": labels.get(h["speaker"] or "A", h["speaker"] or "A")}
                for i, h in enumerate(heard)]
    if first(form, "stream") == "true":
        events = []
        for segment in segments:
            events.append({"data": {"type": "transcript.text.delta", "delta": segment["text"],
                                    "segment_id": segment["id"]}})
            if fmt == "diarized_json":
                events.append({"data": segment})
        events.append({"data": {"type": "transcript.text.done", "text": text, "usage": usage}})
        return {"events": events, "no_length": True}
    if fmt == "text":
        return {"body": text + "\n"}
    if fmt == "diarized_json":
        return {"json": {"task": "transcribe", "duration": duration, "text": text, "segments": segments,
                         "usage": usage}}
    return {"json": {"text": text, "usage": usage}}


def heard_upload(form):
    """(upload, text, segments heard, duration, failure response or None) of a transcription or translation form."""
    upload = first(form, "file")
    text, heard = listen(upload[1])
    if heard is not None:
        EAR.wait()
    found = wav_samples(upload[1])
    duration = len(found[3]) / (found[0] * found[1] * found[2] // 8) if found else 0.4 * len(text.split())
    return text, heard if heard is not None else whole_segment(text, duration), duration, ear_failure(heard)


def transcriptions(request):
    form = multipart_form(request)
    model, upload = first(form, "model"), first(form, "file")
    if not model:
        return bad_request("Missing required parameter: 'model'.", "model")
    if not isinstance(upload, tuple):
        return bad_request("Missing required parameter: 'file'.", "file")
    fmt = first(form, "response_format", "json")
    if not model.startswith("whisper") and model != DIARIZE and fmt != "json":
        return bad_request("response_format '%s' is not compatible with model '%s'. Use 'json'." % (fmt, model),
                           "response_format", "unsupported_value")
    text, heard, duration, failure = heard_upload(form)
    if failure:
        return failure
    usage = transcription_usage(model, text, duration)
    if model == DIARIZE:
        return diarized(form, text, duration, heard, usage)
    if first(form, "stream") == "true" and not model.startswith("whisper"):
        words = text.split(" ")
        events = [{"data": {"type": "transcript.text.delta", "delta": (" " if i else "") + w}}
                  for i, w in enumerate(words)]
        events.append({"data": {"type": "transcript.text.done", "text": text, "usage": usage}})
        return {"events": events, "no_length": True}
    if fmt == "text":
        return {"body": text + "\n"}
    if fmt == "srt":
        return {"body": "1\n%s --> %s\n%s\n\n" % (timestamp(0, ","), timestamp(duration, ","), text)}
    if fmt == "vtt":
        return {"body": "WEBVTT\n\n%s --> %s\n%s\n\n" % (timestamp(0, "."), timestamp(duration, "."), text),
                "headers": {"content-type": "text/vtt"}}
    if fmt == "verbose_json":
        return verbose_answer("transcribe", form, text, duration, heard, usage)
    if fmt != "json":
        return bad_request("response_format must be json, text, srt, verbose_json or vtt.", "response_format")
    answer = {"text": text, "usage": usage}
    if "logprobs" in form.get("include[]", []):
        answer["logprobs"] = [{"token": w, "logprob": -0.01, "bytes": list(w.encode())} for w in text.split()]
    return {"json": answer}


# ---- /v1/audio/translations: whisper-1 alone; the stand-in's audio is English, so its translation is its text.

def translations(request):
    form = multipart_form(request)
    model, upload = first(form, "model"), first(form, "file")
    if not model:
        return bad_request("Missing required parameter: 'model'.", "model")
    if not isinstance(upload, tuple):
        return bad_request("Missing required parameter: 'file'.", "file")
    if not model.startswith("whisper"):
        return bad_request("Model '%s' is not supported for translations: use whisper-1." % model, "model",
                           "unsupported_value")
    text, heard, duration, failure = heard_upload(form)
    if failure:
        return failure
    fmt = first(form, "response_format", "json")
    if fmt == "text":
        return {"body": text + "\n"}
    if fmt == "verbose_json":
        return verbose_answer("translate", form, text, duration, heard, {"type": "duration",
                                                                          "seconds": math.ceil(duration)})
    if fmt != "json":
        return bad_request("response_format must be json, text or verbose_json here.", "response_format")
    return {"json": {"text": text}}


# ---- /v1/chat/completions

def content_text(content):
    """The text parts of a message's content, and its input audio files."""
    if isinstance(content, str):
        return content, []
    texts, audio = [], []
    for part in as_list(content):
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            texts.append(part.get("text") or "")
        elif part.get("type") == "input_audio":
            audio.append(base64.b64decode((part.get("input_audio") or {}).get("data") or ""))
    return " ".join(texts), audio


def example_value(schema):
    """A value that fits a JSON schema: its default, example or first enum value, else one of its type."""
    schema = schema if isinstance(schema, dict) else {}
    for key in ("default", "example"):
        if key in schema:
            return schema[key]
    if as_list(schema.get("examples")):
        return schema["examples"][0]
    if as_list(schema.get("enum")):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        wanted = as_list(schema.get("required")) or list(properties)
        return {name: example_value(properties.get(name)) for name in wanted}
    if kind == "array":
        return [example_value(schema.get("items"))]
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "stand-in")


def chat_answer(messages):
    """What the stand-in says back: its text, how many prompt tokens were text and audio, and the error
    response the ear was told to give for what it heard (or None)."""
    system = " ".join(content_text(m.get("content"))[0] for m in messages
                      if isinstance(m, dict) and m.get("role") in ("system", "developer")).lower()
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    said, audio = content_text(last.get("content"))
    listened = [listen(a) for a in audio]
    if any(segments is not None for _, segments in listened):
        EAR.wait()
    failure = next((ear_failure(segments) for _, segments in listened if ear_failure(segments)), None)
    heard = " ".join(([said] if said else []) + [text for text, _ in listened])
    prompt_text = sum(text_tokens(content_text(m.get("content"))[0]) for m in messages if isinstance(m, dict))
    prompt_audio = sum(audio_tokens((wav_samples(a) or (0, 0, 0, a))[3]) for a in audio)
    if last.get("role") == "tool":
        return "The tool answered: %s" % said, prompt_text, prompt_audio, failure
    translation = re.search(r"translate .*? into ([\w-]+)", system)
    if translation:
        return "[%s] %s" % (translation.group(1), heard), prompt_text, prompt_audio, failure
    if "transcribe" in system or "aloud" in system:
        return heard, prompt_text, prompt_audio, failure
    return ("I heard you say: %s This answer comes from the gptaudio stand-in server." % heard.strip(),
            prompt_text, prompt_audio, failure)


def chat_usage(prompt_text, prompt_audio, reply_text, reply_pcm):
    out_audio = audio_tokens(reply_pcm) if reply_pcm is not None else 0
    out_text = text_tokens(reply_text) if reply_text else 0
    return {"prompt_tokens": prompt_text + prompt_audio, "completion_tokens": out_text + out_audio,
            "total_tokens": prompt_text + prompt_audio + out_text + out_audio,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": prompt_audio, "text_tokens": prompt_text},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": out_audio, "text_tokens": out_text,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def tool_call(tools):
    function = (as_list(tools)[0] or {}).get("function") or {}
    return {"id": "call_standin_%d" % int(time.time() * 1000 % 1000000), "type": "function",
            "function": {"name": function.get("name", "tool"),
                         "arguments": json.dumps(example_value(function.get("parameters")))}}


def chat_chunks(base, message, finish_reason, usage, pcm):
    """The streamed form of a reply, as the API sends it (the chunk sequence of Chat Completions streaming)."""
    def chunk(delta, reason=None):
        return {"data": dict(base, object="chat.completion.chunk",
                             choices=[{"index": 0, "delta": delta, "finish_reason": reason}])}
    events = []
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        events.append(chunk({"role": "assistant", "content": None, "tool_calls": [
            {"index": 0, "id": call["id"], "type": "function",
             "function": {"name": call["function"]["name"], "arguments": ""}}]}))
        arguments = call["function"]["arguments"]
        events.extend(chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[i:i + 8]}}]})
                      for i in range(0, len(arguments), 8))
    elif pcm is not None:
        audio = message["audio"]
        events.append(chunk({"role": "assistant", "audio": {"id": audio["id"], "transcript": ""}}))
        words = audio["transcript"].split(" ")
        pieces = pieces_of(pcm)
        for i in range(max(len(words), len(pieces))):
            delta = {}
            if i < len(words):
                delta["transcript"] = (" " if i else "") + words[i]
            if i < len(pieces):
                delta["data"] = b64(pieces[i])
            events.append(chunk({"audio": delta}))
        events.append(chunk({"audio": {"expires_at": audio["expires_at"]}}))
    else:
        events.append(chunk({"role": "assistant", "content": ""}))
        events.extend(chunk({"content": (" " if i else "") + w})
                      for i, w in enumerate(message["content"].split(" ")))
    events.append(chunk({}, finish_reason))
    if usage is not None:
        events.append({"data": dict(base, object="chat.completion.chunk", choices=[], usage=usage)})
    events.append("[DONE]")
    return {"events": events, "no_length": True}


def chat_completions(request):
    body = request_json(request)
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.")
    model, messages = body.get("model"), as_list(body.get("messages"))
    if not model:
        return bad_request("Missing required parameter: 'model'.", "model")
    if not messages:
        return bad_request("Missing required parameter: 'messages'.", "messages")
    out_audio = "audio" in as_list(body.get("modalities"))
    fmt = (body.get("audio") or {}).get("format")
    if out_audio and not fmt:
        return bad_request("Missing required parameter: 'audio.format'.", "audio.format")
    if out_audio and body.get("stream") and fmt != "pcm16":
        return bad_request("'audio.format' does not support '%s' when stream=true. Supported values are: 'pcm16'."
                           % fmt, "audio.format", "unsupported_value")
    created = int(time.time())
    message = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    last = messages[-1] if isinstance(messages[-1], dict) else {}
    text, prompt_text, prompt_audio, failure = chat_answer(messages)
    if failure:
        return failure
    pcm = None
    if body.get("tools") and last.get("role") == "user":
        message["tool_calls"] = [tool_call(body["tools"])]
        finish_reason, reply_text = "tool_calls", ""
    elif out_audio:
        pcm = VOICE.speak(text)
        audio = encode_audio(pcm, fmt)
        if audio is None:
            return cannot_make(fmt)
        message["audio"] = {"id": "audio_standin_%d" % created, "data": b64(audio), "expires_at": created + 3600,
                            "transcript": text}
        finish_reason, reply_text = "stop", text
    else:
        message["content"] = text
        finish_reason, reply_text = "stop", text
    usage = chat_usage(prompt_text, prompt_audio, reply_text, pcm)
    base = {"id": "chatcmpl-standin-%d" % created, "created": created, "model": answered_model(model)}
    if body.get("stream"):
        wants_usage = (body.get("stream_options") or {}).get("include_usage")
        return chat_chunks(base, message, finish_reason, usage if wants_usage else None, pcm)
    return {"json": dict(base, object="chat.completion", usage=usage,
                         choices=[{"index": 0, "message": message, "finish_reason": finish_reason}])}


STANDIN_HANDLERS = {
    "/v1/chat/completions": chat_completions,
    "/v1/audio/transcriptions": transcriptions,
    "/v1/audio/translations": translations,
    "/v1/audio/speech": speech,
}


class State:
    """Everything the request threads share, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.scripts = {}
        self.defaults = {}
        self.requests = []
        self.responses_sent = 0
        self.connections = 0
        self.standin = False

    def clear(self):
        with self.lock:
            self.scripts.clear()
            self.defaults.clear()
            self.requests.clear()
        EAR.forget()

    def add_script(self, path, responses):
        with self.lock:
            self.scripts.setdefault(path, []).extend(as_list(responses))

    def set_default(self, path, response):
        with self.lock:
            if response is None:
                self.defaults.pop(path, None)
            else:
                self.defaults[path] = response

    def record(self, request):
        with self.lock:
            request["index"] = len(self.requests) + 1
            request["time"] = time.monotonic() - self.started
            self.requests.append(request)

    def recorded(self):
        with self.lock:
            return list(self.requests)

    def response_for(self, request):
        """The next scripted response for the request's exact path, then its path
        without query; else the sticky default; else the stand-in's answer (when
        on); else the built-in handler."""
        bare = request["path"].split("?", 1)[0]
        with self.lock:
            for key in (request["path"], bare):
                queue = self.scripts.get(key)
                if queue:
                    return queue.pop(0)
            sticky = self.defaults.get(bare)
            standin = self.standin
        if sticky is not None:
            return sticky
        handler = (standin and STANDIN_HANDLERS.get(bare)) or DEFAULT_HANDLERS.get(bare, not_found)
        try:
            return handler(request)
        except Exception as failure:  # the handler's bug becomes a 500 the caller can read
            return openai_error(500, "%s failed: %r" % (bare, failure), "server_error", "server_error")

    def next_connection_number(self):
        with self.lock:
            self.connections += 1
            return self.connections

    def next_request_id(self):
        with self.lock:
            self.responses_sent += 1
            return "req_%d" % self.responses_sent


class ConnectionDone(Exception):
    """The response ended the connection on purpose (cut, reset, hangup, close-delimited)."""


def sse_event_bytes(event):
    if isinstance(event, str):
        return to_bytes("data: %s\n\n" % event)
    if "raw" in event:
        return to_bytes(event["raw"])
    lines = []
    if event.get("event") is not None:
        lines.append("event: %s" % event["event"])
    if event.get("id") is not None:
        lines.append("id: %s" % event["id"])
    data = event.get("data")
    if data is not None:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        lines.extend("data: " + line for line in text.split("\n"))
    return to_bytes("\n".join(lines) + "\n\n")


def body_pieces(response):
    """The body as the list of writes it is sent in, and its default content type."""
    if "events" in response:
        pieces = [sse_event_bytes(e) for e in as_list(response["events"])]
        content_type = "text/event-stream"
    elif "chunks" in response:
        pieces = [as_bytes(c) for c in as_list(response["chunks"])]
        content_type = "application/octet-stream"
    elif "json" in response:
        pieces = [json_bytes(response["json"])]
        content_type = "application/json"
    else:
        pieces = [as_bytes(response.get("body", ""))]
        content_type = "text/plain"
    pieces = pieces * int(response.get("repeat", 1))
    size = None
    interval = response.get("chunk_delay", 0)
    if "split" in response:
        size = int(response["split"])
    if "drip" in response:
        size = int(response["drip"].get("bytes", 1))
        interval = response["drip"].get("interval", 0)
    if size:
        whole = b"".join(pieces)
        pieces = [whole[i:i + size] for i in range(0, len(whole), size)]
    return [p for p in pieces if p], content_type, interval


def header_pairs(response):
    headers = response.get("headers") or {}
    if isinstance(headers, dict):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai"

    def log_message(self, *_args):
        pass

    def setup(self):
        super().setup()
        self.connection_number = self.server.state.next_connection_number()

    def handle(self):
        try:
            super().handle()
        except (ConnectionDone, ConnectionError, TimeoutError):
            pass

    def read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def dispatch(self):
        body = self.read_body()
        if self.path.startswith(CONTROL):
            self.control(body)
            return
        request = {
            "method": self.command,
            "path": self.path,
            "connection": self.connection_number,
            "version": self.request_version,
            "headers": {},
            "header_list": [[k.lower(), v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "surrogateescape"),
        }
        for name, value in request["header_list"]:
            seen = request["headers"].get(name)
            request["headers"][name] = value if seen is None else seen + ", " + value
        self.server.state.record(request)
        self.recorded_request, self.arrived = request, time.monotonic()
        self.respond(self.server.state.response_for(request))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = dispatch

    def control(self, body):
        state = self.server.state
        command = self.path[len(CONTROL):].split("?", 1)[0]
        payload = json.loads(body.decode("utf-8", "surrogateescape")) if body else {}
        answer = {"ok": True}
        if command == "ping":
            answer["python"] = sys.executable
        elif command == "script":
            state.add_script(payload["path"], payload.get("responses"))
        elif command == "default":
            state.set_default(payload["path"], payload.get("response"))
        elif command == "requests":
            answer = {"requests": state.recorded()}
        elif command == "clear":
            state.clear()
        elif command == "ear":
            EAR.learn(payload.get("sentences"), payload.get("delay"))
        elif command == "standin":
            with state.lock:
                state.standin = bool(payload.get("on", True))
        elif command == "shutdown":
            try:
                self.respond({"json": answer, "close": True})
            finally:
                threading.Thread(target=self.server.shutdown, daemon=True).start()
            return
        else:
            self.respond(openai_error(404, "unknown control command " + command, "unknown_control"))
            return
        self.respond({"json": answer})

    def close_socket(self, reset):
        sock = self.connection
        try:
            if reset:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        sock.close()
        raise ConnectionDone()

    def note_closed(self):
        with self.server.state.lock:
            self.recorded_request["closed_after"] = time.monotonic() - self.arrived

    def hold(self, seconds):
        """Waits up to `seconds` for the client to close the connection; notes when it did."""
        arrived = self.arrived
        sock = self.connection
        while time.monotonic() - arrived < seconds:
            readable, _, _ = select.select([sock], [], [], seconds - (time.monotonic() - arrived))
            if not readable:
                continue
            try:
                closed = sock.recv(1, socket.MSG_PEEK) == b""
            except ConnectionError:
                closed = True
            if not closed:  # the client sent more (it pipelines): wait out the hold
                time.sleep(max(0, seconds - (time.monotonic() - arrived)))
                return
            self.note_closed()
            raise ConnectionDone()

    def respond(self, response):
        time.sleep(response.get("delay", 0))
        if "hold" in response:
            self.hold(float(response["hold"]))
        reset = bool(response.get("reset"))
        if response.get("hangup"):
            self.close_socket(reset)
        if "wire" in response:
            self.wfile.write(as_bytes(response["wire"]))
            self.close_socket(reset)
        pieces, content_type, interval = body_pieces(response)
        status = int(response.get("status", 200))
        http10 = bool(response.get("http10"))
        chunked = bool(response.get("no_length")) and not http10
        closing = http10 or reset or bool(response.get("close")) or "cut_after" in response
        scripted = header_pairs(response)
        names = {k.lower() for k, _ in scripted}
        headers = []
        if "content-type" not in names:
            headers.append(("content-type", content_type))
        if "x-request-id" not in names and not self.path.startswith(CONTROL):
            headers.append(("x-request-id", self.server.state.next_request_id()))
        if chunked:
            headers.append(("transfer-encoding", "chunked"))
        elif not http10 and "content-length" not in names:
            headers.append(("content-length", str(sum(len(p) for p in pieces))))
        if closing:
            headers.append(("connection", "close"))
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        head = ["%s %d %s" % ("HTTP/1.0" if http10 else "HTTP/1.1", status, reason)]
        head.extend("%s: %s" % pair for pair in headers + scripted)
        self.wfile.write(to_bytes("\r\n".join(head) + "\r\n\r\n"))
        time.sleep(response.get("silence", 0))
        if self.command == "HEAD":
            pieces = []
        try:
            self.send_pieces(pieces, interval, chunked, response.get("cut_after"))
        except ConnectionError:
            self.note_closed()
            raise
        if closing:
            self.close_socket(reset)

    def send_pieces(self, pieces, interval, chunked, budget):
        for i, piece in enumerate(pieces):
            if budget == 0:
                break
            if i > 0:
                time.sleep(interval)
            if budget is not None and budget < len(piece):
                # The cut falls inside this piece: a chunk announces its whole size.
                self.wfile.write((b"%x\r\n" % len(piece) if chunked else b"") + piece[:budget])
                break
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if budget is not None:
                budget -= len(piece)
        if budget is None and chunked:
            self.wfile.write(b"0\r\n\r\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512

    def get_request(self):
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def exit_when_stdin_closes(server):
    sys.stdin.buffer.read()
    server.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--standin", action="store_true", help="answer as a local stand-in of the API")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.state = State()
    server.state.standin = args.standin
    line = "PORT %d\n" % server.server_address[1]
    if args.port_file:
        partial = args.port_file + ".partial"
        with open(partial, "w") as f:
            f.write(line)
        os.rename(partial, args.port_file)
    sys.stdout.write(line)
    sys.stdout.flush()
    threading.Thread(target=exit_when_stdin_closes, args=(server,), daemon=True).start()
    server.serve_forever(poll_interval=0.05)
    # Handler threads may still sleep inside a scripted delay: do not wait for them.
    os._exit(0)


if __name__ == "__main__":
    main()
