"""The media room: decoding, face detection and cropping, clip sampling, the array cache.

Shared by every video corpus and by the real-time pipeline. The pipeline is::

    decode (cv2.VideoCapture, every ``frame_step``-th frame)          decode.py
      -> FaceTracker (Haar detection every ``detect_every`` frames, main face
         kept, box smoothed between detections, centre crop when no face)   faces.py
      -> crop_face (margin, output aspect, resize, optional gray)     faces.py
      -> ArrayCache entry keyed by (file, spec, pipeline version)     clips.py, cache.py

Audio (audio.py): read wav or a video's audio track, resample to 16 kHz, voice
activity, VGGish log-mel patches and eGeMAPS (openSMILE), cached the same way.

Bad media raise :class:`MediaError` naming the file. See docs/video.md for
parameters, the fallback rules and measured speed.
"""

from .cache import ArrayCache, CacheError, content_key, default_cache
from .clips import (FaceClip, FaceClipSpec, face_clip, preprocess_frames, preprocess_video,
                    resize_crops, sample_clips, take_clips, track_and_crop)
from .decode import (CANONICAL_CROP, PIPELINE_VERSION, FaceDetectorUnavailable, MediaError, iter_frames, read_frames,
                     read_image, reset_video_stats, video_info, video_stats)
from .faces import Box, FaceDetector, FaceTracker, crop_face
from .audio import (audio_features, audio_stats, egemaps, log_mel, read_audio, reset_audio_stats,
                    vggish_patches, voice_activity, wave_features)

__all__ = [
    "MediaError", "FaceDetectorUnavailable", "Box", "FaceDetector", "FaceTracker", "FaceClipSpec",
    "FaceClip", "iter_frames", "read_frames", "read_image", "video_info", "crop_face",
    "track_and_crop", "preprocess_frames", "preprocess_video", "face_clip", "sample_clips",
    "take_clips", "video_stats", "reset_video_stats", "PIPELINE_VERSION", "CANONICAL_CROP",
    "resize_crops",
    "ArrayCache", "CacheError", "content_key", "default_cache",
    "read_audio", "voice_activity", "log_mel", "vggish_patches", "egemaps", "audio_features",
    "wave_features", "audio_stats", "reset_audio_stats",
]
