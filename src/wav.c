/* WAV reader and header writer. The reader walks RIFF chunks with every size
   checked against the bytes that remain, so no header can make it read past
   the end, and no sum can overflow. */
#include <stdint.h>
#include <string.h>

#include "wav.h"

#define TAG_PCM 0x0001
#define TAG_ADPCM 0x0002
#define TAG_FLOAT 0x0003
#define TAG_ALAW 0x0006
#define TAG_MULAW 0x0007
#define TAG_IMA_ADPCM 0x0011
#define TAG_MP3 0x0055
#define TAG_EXTENSIBLE 0xFFFE

#define FMT_MIN_BYTES 16
#define FMT_EXTENSIBLE_BYTES 40
#define CHUNK_HEADER_BYTES 8
#define RIFF_HEADER_BYTES 12

/* WAVE_FORMAT_EXTENSIBLE subformat GUIDs are the format tag followed by these 14 bytes. */
static const unsigned char guid_tail[14] = {
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71
};

static unsigned load_u16le(const unsigned char *p)
{
  return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t load_u32le(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_u16le(unsigned char *p, unsigned v)
{
  p[0] = (unsigned char)(v & 0xFF);
  p[1] = (unsigned char)(v >> 8 & 0xFF);
}

static void store_u32le(unsigned char *p, uint32_t v)
{
  store_u16le(p, v & 0xFFFF);
  store_u16le(p + 2, v >> 16);
}

static const char *unsupported_tag(unsigned tag)
{
  switch (tag) {
  case TAG_ADPCM: return "unsupported WAV encoding: Microsoft ADPCM (PCM or IEEE float expected)";
  case TAG_IMA_ADPCM: return "unsupported WAV encoding: IMA ADPCM (PCM or IEEE float expected)";
  case TAG_ALAW: return "unsupported WAV encoding: A-law (PCM or IEEE float expected)";
  case TAG_MULAW: return "unsupported WAV encoding: mu-law (PCM or IEEE float expected)";
  case TAG_MP3: return "unsupported WAV encoding: MP3 (PCM or IEEE float expected)";
  default: return "unsupported WAV encoding (PCM or IEEE float expected)";
  }
}

/* Reads a fmt chunk body of `size` bytes (all present) into out's format, channels and rate. */
static const char *parse_fmt(const unsigned char *p, size_t size, wav_info *out)
{
  unsigned tag, channels, block_align, bits;
  uint32_t rate;

  if (size < FMT_MIN_BYTES)
    return "WAV fmt chunk is too short";
  tag = load_u16le(p);
  channels = load_u16le(p + 2);
  rate = load_u32le(p + 4);
  block_align = load_u16le(p + 12);
  bits = load_u16le(p + 14);

  if (tag == TAG_EXTENSIBLE) {
    if (size < FMT_EXTENSIBLE_BYTES)
      return "WAV extensible fmt chunk is too short";
    if (memcmp(p + 26, guid_tail, sizeof guid_tail) != 0)
      return "unsupported WAV extensible subformat (PCM or IEEE float expected)";
    tag = load_u16le(p + 24);
  }
  if (tag == TAG_PCM) {
    switch (bits) {
    case 8: out->format = PCM_U8; break;
    case 16: out->format = PCM_S16LE; break;
    case 24: out->format = PCM_S24LE; break;
    case 32: out->format = PCM_S32LE; break;
    default: return "unsupported WAV PCM bit depth (8, 16, 24 or 32 expected)";
    }
  } else if (tag == TAG_FLOAT) {
    switch (bits) {
    case 32: out->format = PCM_F32LE; break;
    case 64: out->format = PCM_F64LE; break;
    default: return "unsupported WAV float bit depth (32 or 64 expected)";
    }
  } else {
    return unsupported_tag(tag);
  }
  if (channels == 0)
    return "WAV has zero channels";
  if (rate == 0)
    return "WAV has a zero sample rate";
  /* Both are 16-bit fields, so the product cannot overflow. */
  if (block_align != channels * pcm_sample_bytes(out->format))
    return "WAV block align does not match its channels and bit depth";
  out->channels = channels;
  out->rate = (unsigned)rate;
  return NULL;
}

const char *wav_parse(const unsigned char *bytes, size_t len, wav_info *out)
{
  size_t pos = RIFF_HEADER_BYTES;
  int have_fmt = 0;

  if (len < RIFF_HEADER_BYTES || memcmp(bytes, "RIFF", 4) != 0 || memcmp(bytes + 8, "WAVE", 4) != 0)
    return "not a WAV file (no RIFF/WAVE header)";
  /* The RIFF size is ignored: streamed WAVs leave it 0 or 0xFFFFFFFF. */

  while (len - pos >= CHUNK_HEADER_BYTES) {
    const unsigned char *chunk = bytes + pos;
    size_t size = load_u32le(chunk + 4);
    size_t remaining = len - pos - CHUNK_HEADER_BYTES;

    if (memcmp(chunk, "fmt ", 4) == 0) {
      const char *err;
      if (size > remaining)
        return "WAV fmt chunk is truncated";
      err = parse_fmt(chunk + CHUNK_HEADER_BYTES, size, out);
      if (err)
        return err;
      have_fmt = 1;
    } else if (memcmp(chunk, "data", 4) == 0) {
      size_t frame_bytes;
      if (!have_fmt)
        return "WAV data chunk comes before its fmt chunk";
      if (size == 0 || size == 0xFFFFFFFFu || size > remaining)
        size = remaining;
      frame_bytes = out->channels * pcm_sample_bytes(out->format);
      out->data = chunk + CHUNK_HEADER_BYTES;
      out->frames = size / frame_bytes;
      return NULL;
    }
    /* Skip the body and the pad byte of an odd size; the last chunk may lack it. */
    if (size >= remaining)
      break;
    pos += CHUNK_HEADER_BYTES + size + (size & 1);
  }
  return have_fmt ? "WAV has no data chunk" : "WAV has no fmt chunk";
}

int wav_write_header(unsigned char out[WAV_HEADER_BYTES], unsigned rate,
                     unsigned channels, int float_samples, size_t data_bytes)
{
  unsigned sample_bytes = float_samples ? 4 : 2;
  uint64_t block_align = (uint64_t)channels * sample_bytes;
  uint64_t byte_rate = block_align * rate;

  if (data_bytes > 0xFFFFFFFFu - (WAV_HEADER_BYTES - 8) || channels == 0 || rate == 0 ||
      block_align > 0xFFFF || byte_rate > 0xFFFFFFFFu)
    return -1;
  memcpy(out, "RIFF", 4);
  store_u32le(out + 4, (uint32_t)(data_bytes + WAV_HEADER_BYTES - 8));
  memcpy(out + 8, "WAVEfmt ", 8);
  store_u32le(out + 16, FMT_MIN_BYTES);
  store_u16le(out + 20, float_samples ? TAG_FLOAT : TAG_PCM);
  store_u16le(out + 22, channels);
  store_u32le(out + 24, rate);
  store_u32le(out + 28, (uint32_t)byte_rate);
  store_u16le(out + 32, (unsigned)block_align);
  store_u16le(out + 34, sample_bytes * 8);
  memcpy(out + 36, "data", 4);
  store_u32le(out + 40, (uint32_t)data_bytes);
  return 0;
}
