/* WAV reader and header writer, on WAVs built here: every format and depth
   with exact floats, EXTENSIBLE, odd and unknown chunks, streamed sizes, each
   refusal, and every truncation of valid files (parsed from exact-size heap
   copies, so ASan sees any read past the end). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "wav.h"

#define TAG_PCM 1
#define TAG_FLOAT 3
#define TAG_EXTENSIBLE 0xFFFE

typedef struct {
  unsigned char bytes[512];
  size_t len;
} wav_bytes;

static void put(wav_bytes *w, const void *p, size_t n)
{
  memcpy(w->bytes + w->len, p, n);
  w->len += n;
}

static void put_u16(wav_bytes *w, unsigned v)
{
  unsigned char b[2] = {(unsigned char)(v & 0xFF), (unsigned char)(v >> 8)};
  put(w, b, 2);
}

static void put_u32(wav_bytes *w, uint32_t v)
{
  put_u16(w, v & 0xFFFF);
  put_u16(w, v >> 16);
}

static void put_riff(wav_bytes *w, uint32_t riff_size)
{
  w->len = 0;
  put(w, "RIFF", 4);
  put_u32(w, riff_size);
  put(w, "WAVE", 4);
}

/* A chunk with its pad byte when the size is odd. */
static void put_chunk(wav_bytes *w, const char *id, const void *body, uint32_t size)
{
  static const unsigned char pad = 0;
  put(w, id, 4);
  put_u32(w, size);
  put(w, body, size);
  if (size & 1)
    put(w, &pad, 1);
}

static void put_fmt(wav_bytes *w, unsigned tag, unsigned channels, uint32_t rate, unsigned bits, unsigned block_align)
{
  put(w, "fmt ", 4);
  put_u32(w, 16);
  put_u16(w, tag);
  put_u16(w, channels);
  put_u32(w, rate);
  put_u32(w, rate * block_align);
  put_u16(w, block_align);
  put_u16(w, bits);
}

/* A 40-byte WAVE_FORMAT_EXTENSIBLE fmt chunk whose subformat GUID starts with `subformat`. */
static void put_fmt_extensible(wav_bytes *w, unsigned subformat, unsigned channels, uint32_t rate, unsigned bits,
                               const unsigned char guid_tail[14])
{
  unsigned block_align = channels * bits / 8;
  put(w, "fmt ", 4);
  put_u32(w, 40);
  put_u16(w, TAG_EXTENSIBLE);
  put_u16(w, channels);
  put_u32(w, rate);
  put_u32(w, rate * block_align);
  put_u16(w, block_align);
  put_u16(w, bits);
  put_u16(w, 22);     /* cbSize */
  put_u16(w, bits);   /* valid bits */
  put_u32(w, 0x3);    /* channel mask: front left and right */
  put_u16(w, subformat);
  put(w, guid_tail, 14);
}

static const unsigned char ksdata_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                                   0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

static void put_data(wav_bytes *w, const void *samples, uint32_t declared, size_t actual)
{
  put(w, "data", 4);
  put_u32(w, declared);
  put(w, samples, actual);
}

/* Parses from a heap copy of exactly len bytes. */
static const char *parse(const wav_bytes *w, size_t len, wav_info *info)
{
  unsigned char *copy = malloc(len ? len : 1);
  const char *err;
  memcpy(copy, w->bytes, len);
  err = wav_parse(copy, len, info);
  if (err == NULL)
    info->data = w->bytes + (info->data - copy); /* point into w, which outlives the copy */
  free(copy);
  return err;
}

static int same_floats(const float *a, const float *b, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

/* Parses w, checks the header fields, converts every sample and compares. */
static int parses_to(const wav_bytes *w, pcm_format format, unsigned channels, unsigned rate, size_t frames,
                     const float *expected)
{
  wav_info info;
  float out[64];
  if (parse(w, w->len, &info) != NULL || info.format != format || info.channels != channels || info.rate != rate ||
      info.frames != frames)
    return 0;
  pcm_to_float(info.format, info.data, frames * channels, out);
  return same_floats(out, expected, frames * channels);
}

static int refused_with(const wav_bytes *w, const char *message)
{
  wav_info info;
  const char *err = parse(w, w->len, &info);
  return err != NULL && strcmp(err, message) == 0;
}

static void test_formats(void)
{
  static const unsigned char u8[] = {0, 128, 255, 64};
  static const float u8_f[] = {-1.0f, 0.0f, 127.0f / 128, -0.5f};
  static const unsigned char s16[] = {0x00, 0x80, 0xFF, 0x7F, 0x01, 0x00, 0xFF, 0xFF};
  static const float s16_f[] = {-1.0f, 32767.0f / 32768, 1.0f / 32768, -1.0f / 32768};
  static const unsigned char s24[] = {0x00, 0x00, 0x80, 0xFF, 0xFF, 0x7F, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF};
  static const float s24_f[] = {-1.0f, 8388607.0f / 8388608, 1.0f / 8388608, -1.0f / 8388608};
  static const unsigned char s32[] = {0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x40,
                                      0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF};
  static const float s32_f[] = {-1.0f, 0.5f, 256.0f / 2147483648.0f, -1.0f / 2147483648.0f};
  static const unsigned char f32[] = {0x00, 0x00, 0x80, 0x3E, 0x00, 0x00, 0x80, 0xBF,
                                      0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0x00};
  static const float f32_f[] = {0.25f, -1.0f, 1.5f, 0.0f};
  static const unsigned char f64[] = {0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0xB9, 0x3F,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xE0, 0xBF};
  static const float f64_f[] = {(float)0.1, -0.5f};
  wav_bytes w;

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 8000, 8, 1);
  put_data(&w, u8, 4, 4);
  CHECK(parses_to(&w, PCM_U8, 1, 8000, 4, u8_f), "8-bit mono: 4 frames, (s - 128) / 128");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 2, 44100, 16, 4);
  put_data(&w, s16, 8, 8);
  CHECK(parses_to(&w, PCM_S16LE, 2, 44100, 2, s16_f), "16-bit stereo: 2 frames, s / 32768");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 48000, 24, 3);
  put_data(&w, s24, 12, 12);
  CHECK(parses_to(&w, PCM_S24LE, 1, 48000, 4, s24_f), "24-bit mono: 4 frames, s / 8388608");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 4, 96000, 32, 16);
  put_data(&w, s32, 16, 16);
  CHECK(parses_to(&w, PCM_S32LE, 4, 96000, 1, s32_f), "32-bit 4 channels: 1 frame, s / 2147483648");

  put_riff(&w, 0);
  put_fmt(&w, TAG_FLOAT, 2, 24000, 32, 8);
  put_data(&w, f32, 16, 16);
  CHECK(parses_to(&w, PCM_F32LE, 2, 24000, 2, f32_f), "float32 stereo: 2 frames as they are");

  put_riff(&w, 0);
  put_fmt(&w, TAG_FLOAT, 1, 16000, 64, 8);
  put_data(&w, f64, 16, 16);
  CHECK(parses_to(&w, PCM_F64LE, 1, 16000, 2, f64_f), "float64 mono: 2 frames, nearest float");

  put_riff(&w, 0);
  put_fmt_extensible(&w, TAG_PCM, 2, 48000, 24, ksdata_guid_tail);
  put_data(&w, s24, 12, 12);
  CHECK(parses_to(&w, PCM_S24LE, 2, 48000, 2, s24_f), "EXTENSIBLE PCM 24-bit stereo");

  put_riff(&w, 0);
  put_fmt_extensible(&w, TAG_FLOAT, 1, 22050, 32, ksdata_guid_tail);
  put_data(&w, f32, 16, 16);
  CHECK(parses_to(&w, PCM_F32LE, 1, 22050, 4, f32_f), "EXTENSIBLE float32 mono");
}

static void test_chunks_and_sizes(void)
{
  static const unsigned char s16[] = {0x00, 0x80, 0xFF, 0x7F, 0x01, 0x00, 0xFF, 0xFF};
  static const float s16_f[] = {-1.0f, 32767.0f / 32768, 1.0f / 32768, -1.0f / 32768};
  static const unsigned char fmt18[18] = {1, 0, 1, 0, 0x40, 0x1F, 0, 0, 0x80, 0x3E, 0, 0, 2, 0, 16, 0, 0, 0};
  wav_bytes w;
  wav_info info;

  put_riff(&w, 0);
  put_chunk(&w, "LIST", "abc", 3);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put_chunk(&w, "junk", "x", 1);
  put_chunk(&w, "fact", "\4\0\0\0", 4);
  put_data(&w, s16, 8, 8);
  CHECK(w.len == 12 + 12 + 24 + 10 + 12 + 16, "odd-chunk file is laid out with pad bytes");
  CHECK(parses_to(&w, PCM_S16LE, 1, 8000, 4, s16_f), "odd-sized and unknown chunks are skipped with their pad byte");

  put_riff(&w, 0);
  put_chunk(&w, "fmt ", fmt18, 18);
  put_data(&w, s16, 8, 8);
  CHECK(parses_to(&w, PCM_S16LE, 1, 8000, 4, s16_f), "an 18-byte fmt chunk (cbSize 0) is read");

  put_riff(&w, 0xFFFFFFFFu);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put_data(&w, s16, 0, 8);
  CHECK(parses_to(&w, PCM_S16LE, 1, 8000, 4, s16_f), "data size 0 (streamed) runs to the end");

  put_riff(&w, 0xFFFFFFFFu);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put_data(&w, s16, 0xFFFFFFFFu, 8);
  CHECK(parses_to(&w, PCM_S16LE, 1, 8000, 4, s16_f), "data size 0xFFFFFFFF (streamed) runs to the end");

  put_riff(&w, 36 + 1000);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put_data(&w, s16, 1000, 8);
  CHECK(parses_to(&w, PCM_S16LE, 1, 8000, 4, s16_f), "a data size past the end runs to the end");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put_data(&w, s16, 4, 8);
  CHECK(parses_to(&w, PCM_S16LE, 1, 8000, 2, s16_f), "a data size shorter than the bytes is honoured");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 2, 8000, 16, 4);
  put_data(&w, s16, 7, 7);
  CHECK(parses_to(&w, PCM_S16LE, 2, 8000, 1, s16_f), "a partial final frame is dropped (7 bytes, 1 frame)");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put_data(&w, s16, 0, 0);
  CHECK(parse(&w, w.len, &info) == NULL && info.frames == 0 && info.data == w.bytes + w.len,
        "an empty data chunk is 0 frames pointing at the end");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put(&w, "junk", 4);
  put_u32(&w, 0xFFFFFFFFu);
  put_data(&w, s16, 8, 8);
  CHECK(refused_with(&w, "WAV has no data chunk"), "a chunk claiming 4 GB swallows the rest: no data chunk");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put(&w, "junk", 4);
  put_u32(&w, 0xFFFFFFF7u); /* + 8 + pad would wrap a 32-bit sum */
  CHECK(refused_with(&w, "WAV has no data chunk"), "a chunk size near 4 GB does not wrap the walk");
}

static void test_refusals(void)
{
  static const unsigned char s16[] = {0, 0, 0, 0};
  static const unsigned char other_guid[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                               0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x72};
  wav_bytes w;

  put_riff(&w, 0);
  memcpy(w.bytes, "RIFX", 4);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "not a WAV file (no RIFF/WAVE header)"), "RIFX (big-endian) is not a WAV we read");

  put_riff(&w, 0);
  memcpy(w.bytes + 8, "AVI ", 4);
  CHECK(refused_with(&w, "not a WAV file (no RIFF/WAVE header)"), "a RIFF that is not WAVE is refused");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 0, 8000, 16, 0);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "WAV has zero channels"), "zero channels");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 0, 16, 2);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "WAV has a zero sample rate"), "zero rate");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 2, 8000, 16, 0xFFFF);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "WAV block align does not match its channels and bit depth"), "absurd block align 65535");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 2, 8000, 16, 2);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "WAV block align does not match its channels and bit depth"), "block align of one channel");

  put_riff(&w, 0);
  put_fmt(&w, 2, 1, 8000, 4, 256);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "unsupported WAV encoding: Microsoft ADPCM (PCM or IEEE float expected)"), "MS ADPCM says so");

  put_riff(&w, 0);
  put_fmt(&w, 0x11, 1, 8000, 4, 256);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "unsupported WAV encoding: IMA ADPCM (PCM or IEEE float expected)"), "IMA ADPCM says so");

  put_riff(&w, 0);
  put_fmt(&w, 7, 1, 8000, 8, 1);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "unsupported WAV encoding: mu-law (PCM or IEEE float expected)"), "mu-law says so");

  put_riff(&w, 0);
  put_fmt(&w, 0x1234, 1, 8000, 8, 1);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "unsupported WAV encoding (PCM or IEEE float expected)"), "an unknown tag");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 8000, 12, 2);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "unsupported WAV PCM bit depth (8, 16, 24 or 32 expected)"), "12-bit PCM");

  put_riff(&w, 0);
  put_fmt(&w, TAG_FLOAT, 1, 8000, 16, 2);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "unsupported WAV float bit depth (32 or 64 expected)"), "16-bit float");

  put_riff(&w, 0);
  put_fmt_extensible(&w, TAG_PCM, 1, 8000, 16, other_guid);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "unsupported WAV extensible subformat (PCM or IEEE float expected)"), "a foreign GUID");

  put_riff(&w, 0);
  put_fmt_extensible(&w, 2, 1, 8000, 16, ksdata_guid_tail);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "unsupported WAV encoding: Microsoft ADPCM (PCM or IEEE float expected)"),
        "EXTENSIBLE with the ADPCM subformat says so");

  put_riff(&w, 0);
  put_fmt(&w, TAG_EXTENSIBLE, 1, 8000, 16, 2);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "WAV extensible fmt chunk is too short"), "EXTENSIBLE tag with a 16-byte fmt");

  put_riff(&w, 0);
  put_chunk(&w, "fmt ", "\1\0\1\0\x40\x1F\0\0\x80\x3E\0\0\2\0", 14);
  put_data(&w, s16, 4, 4);
  CHECK(refused_with(&w, "WAV fmt chunk is too short"), "a 14-byte fmt chunk");

  put_riff(&w, 0);
  put(&w, "fmt ", 4);
  put_u32(&w, 16);
  put(&w, "\1\0\1\0\x40\x1F\0\0", 8);
  CHECK(refused_with(&w, "WAV fmt chunk is truncated"), "a fmt chunk cut short by the end");

  put_riff(&w, 0);
  put_data(&w, s16, 4, 4);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  CHECK(refused_with(&w, "WAV data chunk comes before its fmt chunk"), "data before fmt");

  put_riff(&w, 0);
  put_chunk(&w, "LIST", "abcd", 4);
  CHECK(refused_with(&w, "WAV has no fmt chunk"), "no fmt chunk");

  put_riff(&w, 0);
  put_fmt(&w, TAG_PCM, 1, 8000, 16, 2);
  put_chunk(&w, "LIST", "abcd", 4);
  CHECK(refused_with(&w, "WAV has no data chunk"), "no data chunk");

  w.len = 0;
  CHECK(refused_with(&w, "not a WAV file (no RIFF/WAVE header)"), "zero bytes");
}

/* Every prefix of a valid file either is refused or parses to the frames that
   are wholly present, with the same sample bytes. */
static int truncations_are_clean(const wav_bytes *w, size_t data_offset, size_t frame_bytes, size_t frames)
{
  size_t len;
  for (len = 0; len <= w->len; len++) {
    wav_info info;
    const char *err = parse(w, len, &info);
    if (len < data_offset) {
      if (err == NULL)
        return 0;
    } else if (err != NULL || info.data != w->bytes + data_offset ||
               info.frames != (len - data_offset) / frame_bytes || info.frames > frames) {
      return 0;
    }
  }
  return 1;
}

static void test_truncations(void)
{
  static const unsigned char s16[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  wav_bytes w;

  put_riff(&w, 0);
  put_chunk(&w, "LIST", "abc", 3);
  put_fmt(&w, TAG_PCM, 2, 8000, 16, 4);
  put_data(&w, s16, 20, 20);
  CHECK(truncations_are_clean(&w, 12 + 12 + 24 + 8, 4, 5),
        "every truncation of a 16-bit stereo file with a LIST chunk");

  put_riff(&w, 0);
  put_fmt_extensible(&w, TAG_PCM, 2, 8000, 24, ksdata_guid_tail);
  put_data(&w, s16, 18, 18);
  CHECK(truncations_are_clean(&w, 12 + 48 + 8, 6, 3), "every truncation of an EXTENSIBLE 24-bit stereo file");

  put_riff(&w, 0);
  put_fmt(&w, TAG_FLOAT, 1, 8000, 64, 8);
  put_data(&w, s16, 16, 16);
  CHECK(truncations_are_clean(&w, 12 + 24 + 8, 8, 2), "every truncation of a float64 file");
}

static void test_write_header(void)
{
  static const unsigned char expected[WAV_HEADER_BYTES] = {
    'R', 'I', 'F', 'F', 0x88, 0x00, 0x00, 0x00, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ',
    0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0xC0, 0x5D, 0x00, 0x00, 0x80, 0xBB, 0x00, 0x00,
    0x02, 0x00, 0x10, 0x00, 'd', 'a', 't', 'a', 0x64, 0x00, 0x00, 0x00};
  unsigned char header[WAV_HEADER_BYTES];
  wav_bytes w;
  wav_info info;

  CHECK(wav_write_header(header, 24000, 1, 0, 100) == 0 && memcmp(header, expected, sizeof header) == 0,
        "16-bit mono 24 kHz header for 100 bytes, byte for byte");

  w.len = 0;
  CHECK(wav_write_header(header, 48000, 2, 1, 16) == 0, "float32 stereo header");
  put(&w, header, sizeof header);
  put(&w, "\0\0\x80\x3F\0\0\x80\xBF\0\0\0\x3F\0\0\0\xBF", 16);
  CHECK(parse(&w, w.len, &info) == NULL && info.format == PCM_F32LE && info.channels == 2 && info.rate == 48000 &&
        info.frames == 2 && info.data == w.bytes + WAV_HEADER_BYTES, "the float header parses back");

  CHECK(wav_write_header(header, 8000, 1, 0, 0xFFFFFFFFu - 36) == 0, "the largest data size fits");
  CHECK(wav_write_header(header, 8000, 1, 0, 0xFFFFFFFFu - 35) == -1, "one byte more does not");
  CHECK(wav_write_header(header, 0, 1, 0, 0) == -1 && wav_write_header(header, 8000, 0, 0, 0) == -1,
        "zero rate or channels is refused");
  CHECK(wav_write_header(header, 8000, 32768, 0, 0) == -1 && wav_write_header(header, 8000, 32767, 0, 0) == 0,
        "block align must fit 16 bits");
  CHECK(wav_write_header(header, 0xFFFFFFFFu, 2, 1, 0) == -1, "byte rate must fit 32 bits");
}

int main(void)
{
  test_formats();
  test_chunks_and_sizes();
  test_refusals();
  test_truncations();
  test_write_header();
  return TAP_DONE();
}
