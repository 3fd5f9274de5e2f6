/* The decoder: libavformat demuxes through media_input's AVIO, libavcodec
   decodes the best audio stream, libswresample turns each frame into
   interleaved float32 at the rate and channel count asked for, and read()
   serves those frames in the sizes asked for. */
#include "media_decoder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "media_input.h"

/* Damaged packets are skipped as FFmpeg's own tools skip them, but a stream
   made of nothing else is not audio. */
#define MAX_BAD_PACKETS 1000
/* Encoders pad the last frame (AAC by up to 2048 samples) and some containers
   (mp4 without trimming the tail) hand the padding on: frames past the end
   the container declares are dropped when there are at most this many
   (source-rate) samples of them; more means the declared end is wrong, and
   nothing is dropped. */
#define PADDING_SAMPLES 4096

struct media_decoder {
  media_input input;
  AVFormatContext *format;
  AVCodecContext *codec;
  AVPacket *packet;
  AVFrame *frame;
  SwrContext *swr;
  AVChannelLayout swr_in, out_layout; /* what swr was set up for, and the output */
  int swr_in_rate;
  int stream;
  int input_done, output_done;
  unsigned bad_packets;
  unsigned long long frames_out;
  unsigned long long end_frames; /* the declared end, in output frames; 0: none to trust */
  size_t padding_frames;         /* PADDING_SAMPLES at the output rate */
  float *pending; /* converted frames not yet read */
  size_t pending_first, pending_frames, pending_capacity;
  media_info info;
};

static void describe(char *why, size_t why_size, const char *what, int code)
{
  char text[AV_ERROR_MAX_STRING_SIZE];
  av_strerror(code, text, sizeof text);
  snprintf(why, why_size, "%s: %s", what, text);
}

/* Playlists and references to other files (hls, concat, mov's dref) would
   open paths named inside the bytes: only the one input is ever read. */
static int refuse_io_open(struct AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                          AVDictionary **options)
{
  (void)s, (void)pb, (void)url, (void)flags, (void)options;
  return AVERROR(EPERM);
}

static int open_format(media_decoder *d, const AVInputFormat *forced)
{
  d->format = avformat_alloc_context();
  if (!d->format)
    return AVERROR(ENOMEM);
  d->format->pb = d->input.avio;
  d->format->flags |= AVFMT_FLAG_CUSTOM_IO;
  d->format->io_open = refuse_io_open;
  return avformat_open_input(&d->format, NULL, forced, NULL);
}

static int probe(media_decoder *d, const char *hint, char *why, size_t why_size)
{
  int ret = open_format(d, NULL);
  if (ret < 0 && hint && av_find_input_format(hint)) {
    avio_seek(d->input.avio, 0, SEEK_SET);
    ret = open_format(d, av_find_input_format(hint));
  }
  if (ret < 0) {
    describe(why, why_size, "not a recognised audio file", ret);
    return -1;
  }
  ret = avformat_find_stream_info(d->format, NULL);
  if (ret < 0) {
    describe(why, why_size, "cannot read the streams", ret);
    return -1;
  }
  return 0;
}

static int open_codec(media_decoder *d, char *why, size_t why_size)
{
  const AVCodec *codec = NULL;
  AVStream *st;
  unsigned i;
  int ret = av_find_best_stream(d->format, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
  if (ret == AVERROR_STREAM_NOT_FOUND) {
    snprintf(why, why_size, "no audio stream in this %s file", d->format->iformat->name);
    return -1;
  }
  if (ret < 0 || !codec) {
    snprintf(why, why_size, "no decoder for the audio of this %s file", d->format->iformat->name);
    return -1;
  }
  d->stream = ret;
  for (i = 0; i < d->format->nb_streams; i++)
    if ((int)i != d->stream)
      d->format->streams[i]->discard = AVDISCARD_ALL;
  st = d->format->streams[d->stream];
  d->codec = avcodec_alloc_context3(codec);
  if (!d->codec)
    return snprintf(why, why_size, "not enough memory to decode"), -1;
  if ((ret = avcodec_parameters_to_context(d->codec, st->codecpar)) < 0 ||
      (ret = avcodec_open2(d->codec, codec, NULL)) < 0) {
    describe(why, why_size, "cannot open the decoder", ret);
    return -1;
  }
  if (d->codec->sample_rate <= 0 || d->codec->sample_rate > MEDIA_MAX_RATE) {
    snprintf(why, why_size, "the audio stream declares a rate of %d Hz", d->codec->sample_rate);
    return -1;
  }
  if (d->codec->ch_layout.nb_channels <= 0 || d->codec->ch_layout.nb_channels > MEDIA_MAX_CHANNELS) {
    snprintf(why, why_size, "the audio stream declares %d channels", d->codec->ch_layout.nb_channels);
    return -1;
  }
  d->info.source_rate = (unsigned)d->codec->sample_rate;
  d->info.source_channels = (unsigned)d->codec->ch_layout.nb_channels;
  d->info.codec = avcodec_get_name(codec->id);
  d->info.container = d->format->iformat->name;
  /* mp3's stream duration counts the encoder's delay, which decoding skips and
     start_time tells. */
  if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
    d->info.duration = (double)(st->duration - (st->start_time > 0 ? st->start_time : 0)) * av_q2d(st->time_base);
  else if (d->format->duration != AV_NOPTS_VALUE && d->format->duration > 0)
    d->info.duration = (double)d->format->duration / AV_TIME_BASE;
  else
    d->info.duration = -1;
  return 0;
}

static media_decoder *finish_open(media_decoder *d, const media_decode_options *options, char *why,
                                  size_t why_size)
{
  const char *hint = options ? options->hint : NULL;
  if (probe(d, hint, why, why_size) != 0 || open_codec(d, why, why_size) != 0)
    goto fail;
  d->info.rate = options && options->rate ? options->rate : d->info.source_rate;
  d->info.channels = options && options->channels ? options->channels : d->info.source_channels;
  av_channel_layout_default(&d->out_layout, (int)d->info.channels);
  if (d->format->duration_estimation_method == AVFMT_DURATION_FROM_STREAM && d->info.duration > 0) {
    d->end_frames = (unsigned long long)(d->info.duration * d->info.rate + 0.5);
    d->padding_frames = (size_t)((double)PADDING_SAMPLES * d->info.rate / d->info.source_rate) + 1;
  }
  d->packet = av_packet_alloc();
  d->frame = av_frame_alloc();
  if (!d->packet || !d->frame) {
    snprintf(why, why_size, "not enough memory to decode");
    goto fail;
  }
  return d;
fail:
  media_decoder_close(d);
  return NULL;
}

media_decoder *media_decoder_open_file(const char *path, const media_decode_options *options,
                                       char *why, size_t why_size)
{
  media_decoder *d = calloc(1, sizeof *d);
  if (!d)
    return snprintf(why, why_size, "not enough memory to decode"), NULL;
  if (media_input_open_file(&d->input, path, why, why_size) != 0) {
    free(d);
    return NULL;
  }
  return finish_open(d, options, why, why_size);
}

media_decoder *media_decoder_open_memory(const void *data, size_t size, const media_decode_options *options,
                                         char *why, size_t why_size)
{
  media_decoder *d = calloc(1, sizeof *d);
  if (!d)
    return snprintf(why, why_size, "not enough memory to decode"), NULL;
  if (media_input_open_memory(&d->input, data, size, why, why_size) != 0) {
    free(d);
    return NULL;
  }
  return finish_open(d, options, why, why_size);
}

const media_info *media_decoder_info(const media_decoder *d)
{
  return &d->info;
}

/* Room for `frames` more converted frames after those pending. */
static int reserve_pending(media_decoder *d, size_t frames)
{
  size_t need = d->pending_frames + frames;
  float *grown;
  if (d->pending_first > 0 && d->pending_frames > 0)
    memmove(d->pending, d->pending + d->pending_first * d->info.channels,
            d->pending_frames * d->info.channels * sizeof(float));
  d->pending_first = 0;
  if (need <= d->pending_capacity)
    return 0;
  grown = realloc(d->pending, need * d->info.channels * sizeof(float));
  if (!grown)
    return -1;
  d->pending = grown;
  d->pending_capacity = need;
  return 0;
}

/* Runs swr over `count` input frames (NULL data: drains what it holds). */
static int convert(media_decoder *d, const uint8_t **data, int count, char *why, size_t why_size)
{
  int room = swr_get_out_samples(d->swr, count), got;
  uint8_t *out;
  if (room < 0)
    return describe(why, why_size, "cannot convert the samples", room), -1;
  if (reserve_pending(d, (size_t)room) != 0)
    return snprintf(why, why_size, "not enough memory for decoded audio"), -1;
  out = (uint8_t *)(d->pending + d->pending_frames * d->info.channels);
  got = swr_convert(d->swr, &out, room, data, count);
  if (got < 0)
    return describe(why, why_size, "cannot convert the samples", got), -1;
  d->pending_frames += (size_t)got;
  return 0;
}

/* Sets swr up for this frame's rate and layout, when they are new: a stream
   may change them midway (what the old setup still holds is drained first). */
static int setup_swr(media_decoder *d, const AVFrame *f, char *why, size_t why_size)
{
  AVChannelLayout in;
  int ret;
  if (f->sample_rate <= 0 || f->sample_rate > MEDIA_MAX_RATE || f->ch_layout.nb_channels <= 0 ||
      f->ch_layout.nb_channels > MEDIA_MAX_CHANNELS) {
    snprintf(why, why_size, "a frame of %d channels at %d Hz", f->ch_layout.nb_channels, f->sample_rate);
    return -1;
  }
  if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
    av_channel_layout_default(&in, f->ch_layout.nb_channels);
  else if (av_channel_layout_copy(&in, &f->ch_layout) < 0)
    return snprintf(why, why_size, "not enough memory to decode"), -1;
  if (d->swr && f->sample_rate == d->swr_in_rate && av_channel_layout_compare(&in, &d->swr_in) == 0) {
    av_channel_layout_uninit(&in);
    return 0;
  }
  if (d->swr && convert(d, NULL, 0, why, why_size) != 0) {
    av_channel_layout_uninit(&in);
    return -1;
  }
  swr_free(&d->swr);
  av_channel_layout_uninit(&d->swr_in);
  d->swr_in = in;
  d->swr_in_rate = f->sample_rate;
  ret = swr_alloc_set_opts2(&d->swr, &d->out_layout, AV_SAMPLE_FMT_FLT, (int)d->info.rate, &in,
                            (enum AVSampleFormat)f->format, f->sample_rate, 0, NULL);
  if (ret >= 0)
    ret = swr_init(d->swr);
  if (ret < 0)
    return describe(why, why_size, "cannot convert the samples", ret), -1;
  return 0;
}

/* Feeds the decoder the next packet of the audio stream, or the end. */
static int feed(media_decoder *d, char *why, size_t why_size)
{
  int ret;
  for (;;) {
    ret = av_read_frame(d->format, d->packet);
    if (ret == AVERROR_EOF || (ret < 0 && avio_feof(d->input.avio))) {
      d->input_done = 1;
      avcodec_send_packet(d->codec, NULL);
      return 0;
    }
    if (ret < 0)
      return describe(why, why_size, "cannot read the audio", ret), -1;
    if (d->packet->stream_index == d->stream)
      break;
    av_packet_unref(d->packet);
  }
  ret = avcodec_send_packet(d->codec, d->packet);
  av_packet_unref(d->packet);
  if (ret == AVERROR_INVALIDDATA && ++d->bad_packets <= MAX_BAD_PACKETS)
    return 0;
  if (ret < 0 && ret != AVERROR(EAGAIN))
    return describe(why, why_size, "cannot decode the audio", ret), -1;
  return 0;
}

/* Converts the next decoded frame into pending: 1, 0 once everything is
   out, -1 on an error. */
static int next_frame(media_decoder *d, char *why, size_t why_size)
{
  for (;;) {
    int ret = avcodec_receive_frame(d->codec, d->frame);
    if (ret == 0) {
      ret = setup_swr(d, d->frame, why, why_size);
      if (ret == 0)
        ret = convert(d, (const uint8_t **)d->frame->extended_data, d->frame->nb_samples, why, why_size);
      av_frame_unref(d->frame);
      return ret == 0 ? 1 : -1;
    }
    if (ret == AVERROR_EOF) {
      d->output_done = 1;
      if (d->swr && convert(d, NULL, 0, why, why_size) != 0)
        return -1;
      return d->pending_frames > 0 ? 1 : 0;
    }
    if (ret == AVERROR_INVALIDDATA && ++d->bad_packets <= MAX_BAD_PACKETS)
      continue;
    if (ret != AVERROR(EAGAIN))
      return describe(why, why_size, "cannot decode the audio", ret), -1;
    if (d->input_done) /* a decoder that wants more after the end has nothing more */
      return d->output_done = 1, 0;
    if (feed(d, why, why_size) != 0)
      return -1;
  }
}

/* How many pending frames read() may give now. Frames past the declared end
   wait until it is known whether they are padding (dropped at the end) or
   more than padding (the declared end was wrong: all are given). */
static size_t servable(media_decoder *d)
{
  unsigned long long before_end;
  size_t past;
  if (d->end_frames == 0)
    return d->pending_frames;
  before_end = d->end_frames > d->frames_out ? d->end_frames - d->frames_out : 0;
  if (d->pending_frames <= before_end)
    return d->pending_frames;
  past = d->pending_frames - (size_t)before_end;
  if (past > d->padding_frames) {
    d->end_frames = 0;
    return d->pending_frames;
  }
  if (d->output_done)
    d->pending_frames = (size_t)before_end;
  return (size_t)before_end;
}

long media_decoder_read(media_decoder *d, float *out, size_t max_frames, char *why, size_t why_size)
{
  size_t done = 0;
  while (done < max_frames) {
    size_t n = servable(d);
    if (n == 0) {
      int got = d->output_done ? 0 : next_frame(d, why, why_size);
      if (got < 0)
        return -1;
      if (got == 0 && servable(d) == 0)
        break;
      continue;
    }
    if (n > max_frames - done)
      n = max_frames - done;
    memcpy(out + done * d->info.channels, d->pending + d->pending_first * d->info.channels,
           n * d->info.channels * sizeof(float));
    d->pending_first += n;
    d->pending_frames -= n;
    d->frames_out += n;
    done += n;
  }
  if (done == 0 && d->frames_out == 0) {
    snprintf(why, why_size, "no audio could be decoded from this %s file", d->info.container);
    return -1;
  }
  return (long)done;
}

void media_decoder_close(media_decoder *d)
{
  if (!d)
    return;
  swr_free(&d->swr);
  av_channel_layout_uninit(&d->swr_in);
  av_channel_layout_uninit(&d->out_layout);
  av_frame_free(&d->frame);
  av_packet_free(&d->packet);
  avcodec_free_context(&d->codec);
  avformat_close_input(&d->format);
  media_input_close(&d->input);
  free(d->pending);
  free(d);
}

int media_demuxer_available(const char *name)
{
  return av_find_input_format(name) != NULL;
}
