#pragma once
#include <PCSC/winscard.h>
#include <PCSC/reader.h>

// SCARD_PCI_T0/T1 are macros over an exported global.
static inline const SCARD_IO_REQUEST *mie_scard_pci_t0(void) { return SCARD_PCI_T0; }
static inline const SCARD_IO_REQUEST *mie_scard_pci_t1(void) { return SCARD_PCI_T1; }
