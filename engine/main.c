/* SPDX-License-Identifier: MIT */
/* placeholder until the command dispatcher lands in this same change */
int main(void);

int main(void)
{
    return 0;
}
