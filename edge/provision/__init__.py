"""Provisioning: a freshly flashed Raspberry Pi OS boot partition prepared for first boot.

    request.py      ProvisionRequest and the checks on host name and user
    wifi.py         WifiNetwork: SSID, country, the pre-computed WPA key
    ssh_keys.py     public keys checked line by line
    edge_config.py  the edge.toml, validated as the daemon would (board environment: empty)
    plan.py         FirstBootFormat detection and every file to write (pure)
    firstrun.py     Raspberry Pi Imager's firstrun.sh, Bookworm's custom.toml (pure)
    cloud_init.py   user-data, network-config, meta-data for cloud-init's NoCloud (pure)
    firstboot.py    edge-firstboot.sh, run by every format: config to /etc/edge, service on
    cmdline.py      the kernel command line and its first-boot hooks (pure)
    disk_image.py   the MBR and FAT boot sector of an image (pure)
    partition.py    I/O: a mounted directory, or an image through mtools
    command.py      `edge provision`

Everything is validated and the whole plan built before the first byte is written.
"""
