"""`PiDNG` (a C extension) replaced: picamera2 imports it for DNG files, which are not tested."""
