/* user_blob.S: the ring-3 program (user.c), embedded as a flat binary. */
	.section .rodata
	.balign 4096
	.globl user_image, user_image_end
user_image:
	.incbin USER_BIN
user_image_end:
